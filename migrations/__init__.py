"""Alembic migrations; `terugbel db upgrade` runs them (terugbel/migrate.py)."""
