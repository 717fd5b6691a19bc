"""Operator notifications: alerts out of the event stream, and Telegram.

``alerts`` turns what the recorder writes (events, new fills, closed trades) into short
alert lines in a bounded queue: appending never waits, the oldest line is dropped (and
counted) when it is full, so a slow or dead messenger never slows trading.
``telegram`` sends those lines and answers operator commands over ``ControlService``.
"""
