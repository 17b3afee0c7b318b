"""The PostgreSQL side: which server, its metadata, versions, the lock, DDL, view switching,
backups, queries.
"""
