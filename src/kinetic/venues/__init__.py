"""Venue adapters: the only code that speaks a wire protocol."""
