"""Herald developer tools: the local stack and demo (herald-run), the operator CLI (heraldctl)."""
