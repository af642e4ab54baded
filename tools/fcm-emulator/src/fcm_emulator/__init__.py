"""A local stand-in for Firebase Cloud Messaging (HTTP v1 API)."""
