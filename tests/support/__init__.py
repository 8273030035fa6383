"""Helpers shared by the real-Docker test suites."""
