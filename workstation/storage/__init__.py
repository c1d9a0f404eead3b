"""Storage: the workstation database (SQLite by default, PostgreSQL by URL), its migrations, reads and audit entries."""

from workstation.storage.database import Database, StorageError, default_database_url, open_database

__all__ = ["Database", "StorageError", "default_database_url", "open_database"]
