"""Fake venue servers on 127.0.0.1: Binance spot/USD-M, Kraken spot/Futures.

Used by the tests, the sandbox (``python main.py sandbox``) and the crash harness.
"""
