"""Operator commands as one service (kill switch, flatten, status).

The CLI (through command rows the daemon polls), and later the HTTP API and Telegram,
are thin adapters over ``ControlService``; none of them reaches into engines directly.
"""
