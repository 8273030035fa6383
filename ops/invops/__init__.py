"""invops: backup, restore, rollback and deploy operations for the container inventory platform."""

__version__ = "0.1.0"
