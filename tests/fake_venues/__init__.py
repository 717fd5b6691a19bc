"""Test-only helpers for the fake venues (the fakes live in kinetic.venues.fakes)."""
