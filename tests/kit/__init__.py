"""Helpers shared by Herald's tests."""
