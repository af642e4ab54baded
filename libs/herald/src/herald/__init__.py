"""Herald's shared runtime: settings, event schemas, Kafka helpers, health and metrics, logging."""
