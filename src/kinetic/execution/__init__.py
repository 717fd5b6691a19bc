"""Execution: the OMS (journal-first orders, fill sync, reconciliation)."""
