"""Logging: the SecretRedactor processor and configure_logging's renderer choice."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from kinetic.logging import REDACTED, REDACTOR, SecretRedactor, configure_logging, get_logger

SECRET = "sk-live-9f8e7d6c5b4a"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put structlog (same processor list object) and the root logger back afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def redact(event: dict[str, Any], secrets: tuple[str, ...] = (SECRET,)) -> dict[str, Any]:
    return dict(SecretRedactor(secrets)(None, "info", dict(event)))


def test_known_secret_removed_from_nested_values_lists_and_exception_text() -> None:
    out = redact(
        {
            "event": f"calling venue with {SECRET}",
            "request": {
                "headers": {"note": f"k={SECRET}&x=1"},
                "params": [f"a{SECRET}", ("t", SECRET)],
            },
            "exception": f"Traceback ...\nVenueError: bad key {SECRET}",
            "count": 3,
        }
    )
    assert SECRET not in json.dumps(out)
    assert out["event"] == f"calling venue with {REDACTED}"
    assert out["request"]["headers"]["note"] == f"k={REDACTED}&x=1"
    assert out["request"]["params"] == [f"a{REDACTED}", ("t", REDACTED)]
    assert out["exception"].endswith(f"bad key {REDACTED}")
    assert out["count"] == 3


def test_secret_like_keys_are_masked_at_any_depth() -> None:
    out = redact(
        {
            "api_key": "abc",
            "X-MBX-APIKEY": "def",
            "client_secret": "ghi",
            "nested": {"signature": "0xdead", "PASSWORD": "pw", "passphrase": "pp", "token": 12345},
            "password_hint": None,
            "token_empty": "",
            "symbol": "BTCUSDT",
        },
        secrets=(),
    )
    assert out["api_key"] == out["X-MBX-APIKEY"] == out["client_secret"] == REDACTED
    assert set(out["nested"].values()) == {REDACTED}
    assert out["password_hint"] is None
    assert out["token_empty"] == ""
    assert out["symbol"] == "BTCUSDT"


def test_password_in_url_is_masked() -> None:
    out = redact(
        {
            "event": "db connect",
            "url": "postgresql://kinetic:hunter22@db.internal:5432/kinetic",
            "note": "fallback to redis://user:p4ss@cache:6379/0 failed",
            "plain": "https://example.com/path",
        },
        secrets=(),
    )
    assert out["url"] == f"postgresql://kinetic:{REDACTED}@db.internal:5432/kinetic"
    assert out["note"] == f"fallback to redis://user:{REDACTED}@cache:6379/0 failed"
    assert out["plain"] == "https://example.com/path"


def test_longer_secret_wins_and_too_short_values_are_ignored() -> None:
    redactor = SecretRedactor(["abc", "", "secretA", "secretABC"])
    out = redactor(None, "info", {"event": "x secretABC y secretA z abc"})
    assert out["event"] == f"x {REDACTED} y {REDACTED} z abc"


def test_configure_logging_renders_json_when_stream_is_not_a_tty(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    get_logger(engine="spot").info("order placed", symbol="BTCUSDT", qty="0.1")
    get_logger().debug("filtered out")
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "order placed"
    assert (event["engine"], event["symbol"], event["level"]) == ("spot", "BTCUSDT", "info")
    assert "timestamp" in event


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_configure_logging_renders_console_text_on_a_tty(restore_logging: None) -> None:
    stream = _Tty()
    configure_logging("INFO", stream=stream)
    get_logger(engine="spot").info("order placed")
    text = stream.getvalue()
    assert "order placed" in text
    assert "engine=spot" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_configured_pipeline_redacts_secret_in_logged_exception(restore_logging: None) -> None:
    secret = "pipeline-secret-1a2b3c"
    REDACTOR.add([secret])
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = get_logger()
    try:
        raise RuntimeError(f"auth failed for key {secret}")
    except RuntimeError:
        log.exception("venue call failed", url=f"https://u:{secret}@api.example.com")
    output = stream.getvalue()
    assert secret not in output
    assert "venue call failed" in json.loads(output.splitlines()[0])["event"]


def test_configured_pipeline_redacts_secret_in_exception_object_field(
    restore_logging: None,
) -> None:
    secret = "object-secret-4d5e6f"
    REDACTOR.add([secret])
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    get_logger().warning("venue call failed", error=RuntimeError(f"bad key {secret}"))
    assert secret not in stream.getvalue()


def test_a_logger_made_before_a_reconfiguration_follows_it(restore_logging: None) -> None:
    """get_logger keeps its bound logger only while structlog's configuration stands."""
    first, second = io.StringIO(), io.StringIO()
    configure_logging("WARNING", json=True, stream=first)
    log = get_logger(engine="spot").bind(symbol="BTCUSDT")
    log.info("filtered out")
    log.warning("kept", n=1)
    configure_logging("DEBUG", json=True, stream=second)  # new level and new stream
    log.debug("now visible")
    with structlog.testing.capture_logs() as captured:  # edits the processor list in place
        log.info("captured")
    lines = [json.loads(x) for x in first.getvalue().splitlines()]
    assert [x["event"] for x in lines] == ["kept"]
    assert lines[0]["engine"] == "spot"
    assert lines[0]["symbol"] == "BTCUSDT"
    assert [json.loads(x)["event"] for x in second.getvalue().splitlines()] == ["now visible"]
    assert [c["event"] for c in captured] == ["captured"]


def test_a_logger_can_be_copied() -> None:
    import copy

    log = get_logger(engine="spot")
    assert copy.copy(log)._context == {"engine": "spot"}
    assert copy.deepcopy(log)._context == {"engine": "spot"}


def test_enabled_follows_the_configured_level(restore_logging: None) -> None:
    log = get_logger(engine="spot")
    configure_logging("WARNING", json=True, stream=io.StringIO())
    assert not log.enabled(logging.INFO)
    assert log.enabled(logging.WARNING)
    configure_logging("DEBUG", json=True, stream=io.StringIO())
    assert log.enabled(logging.DEBUG)
    assert log.enabled(logging.INFO)
    configure_logging("WARNING", json=True, stream=io.StringIO())  # back: remembered answers
    assert not log.enabled(logging.INFO)  # are per wrapper class, not stale


def test_enabled_asks_a_wrapper_that_is_not_a_filtering_one(restore_logging: None) -> None:
    """Only structlog's filtering wrappers answer by class; any other is asked every time."""

    class Moody(structlog.BoundLogger):  # another module: never remembered
        answer = False

        def is_enabled_for(self, level: int) -> bool:
            return self.answer

    structlog.configure(wrapper_class=Moody)
    log = get_logger(engine="spot")
    assert not log.enabled(logging.INFO)
    Moody.answer = True
    assert log.enabled(logging.INFO)
