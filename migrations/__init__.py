"""Alembic migrations of menderlite's schema (run with `menderlite migrate`; `serve` applies them too)."""
