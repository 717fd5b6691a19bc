"""Alembic environment for the Kinetic schema (configured in code by ``db.py``)."""
