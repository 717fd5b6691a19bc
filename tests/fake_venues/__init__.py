"""Local fake venue servers (127.0.0.1 only) for integration tests."""
