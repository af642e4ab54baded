"""Herald scheduler."""
