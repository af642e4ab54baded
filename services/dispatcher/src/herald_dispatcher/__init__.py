"""Herald dispatcher."""
