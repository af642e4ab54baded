"""Herald token-api."""
