"""Telegram: alerts to the configured chats, and operator commands from them.

``client`` is the only code that speaks the Bot API (JSON over HTTPS, long polling);
``schemas`` turns its updates into frozen types; ``commands`` answers them over
``ControlService`` and the read-only ``views``; ``bot`` owns the two tasks.
"""
