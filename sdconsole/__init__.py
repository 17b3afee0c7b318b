"""sdconsole: migrate a ServiceDesk SQLite database to PostgreSQL, safely."""

__version__ = "0.1.0"
