"""Operator tooling behind the CLI: config views, secrets, backup/restore, systemd notify."""
