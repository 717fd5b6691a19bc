"""Kinetic: a supervised asyncio crypto trading daemon."""

__version__ = "0.1.0"
