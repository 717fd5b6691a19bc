"""Engines: thin async shells around the functional core (strategy, risk, portfolio)."""
