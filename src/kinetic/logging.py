"""structlog set-up: JSON lines off a TTY, readable console on a TTY, secrets redacted.

Every event may carry ``engine``, ``symbol`` and ``client_order_id``; engines bind them
with ``log.bind(...)``. The redaction processor replaces any known secret value found
anywhere in an event, and masks values of keys that look like secrets.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

_SECRET_KEY_RE = re.compile(r"(secret|api_?key|token|password|signature|passphrase)", re.I)
_URL_PASSWORD_RE = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
REDACTED = "***"


class SecretRedactor:
    """A structlog processor that removes secret values from every event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for s in secrets:
            if s and len(s) >= 4 and s not in self._secrets:
                self._secrets.append(s)
        self._secrets.sort(key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, BaseException):
            value = repr(value)
        if isinstance(value, str):
            for s in self._secrets:
                if s in value:
                    value = value.replace(s, REDACTED)
            return _URL_PASSWORD_RE.sub(r"\1" + REDACTED + r"\3", value)
        if isinstance(value, dict):
            return {k: self._scrub_item(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        return value

    def _scrub_item(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and _SECRET_KEY_RE.search(key) and value not in (None, ""):
            return REDACTED
        return self.scrub(value)

    def __call__(
        self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            event_dict[key] = self._scrub_item(key, event_dict[key])
        return event_dict


REDACTOR = SecretRedactor()


def configure_logging(level: str = "INFO", *, json: bool | None = None, stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger once for the process."""
    stream = stream or sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        REDACTOR,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=logging.WARNING, stream=stream, format="%(name)s %(message)s")


class _ConfigView:
    """Read-only view of structlog's configured parts (see ``_Logger``)."""

    def __init__(self) -> None:
        # structlog keeps its configuration on one module-level object whose attributes
        # ``configure``/``reset_defaults`` replace; reading them directly avoids
        # ``get_config()``, which builds a dict on every call
        self._cfg = getattr(structlog._config, "_CONFIG", None)

    def parts(self) -> tuple[Any, Any, Any, Any]:
        cfg = self._cfg
        if cfg is None:  # pragma: no cover - a structlog without the private object
            d = structlog.get_config()
            return (d["processors"], d["wrapper_class"], d["logger_factory"], d["context_class"])
        return (
            cfg.default_processors,
            cfg.default_wrapper_class,
            cfg.logger_factory,
            cfg.default_context_class,
        )


_CONFIG_VIEW = _ConfigView()
# the module of structlog's filtering wrapper classes, whose ``is_enabled_for(level)`` is
# ``level >= min_level`` fixed per class; answers per wrapper class and level
_FILTERING_MODULE = "structlog._native"
_ENABLED: dict[Any, dict[int, bool]] = {}


class _Logger:
    """A bound structlog logger that follows the configuration in force when it logs.

    ``structlog.get_logger`` returns a lazy proxy that rebuilds the bound logger on every
    call (about 10 us, even for a filtered-out debug line). This one keeps the bound
    logger until structlog's configuration changes (its parts compared by identity:
    processors list, wrapper class, logger factory, context class), so a call below
    the level costs a few attribute reads and a no-op, and a module-level logger created
    before ``configure_logging`` still obeys it.
    """

    __slots__ = ("_bound", "_context", "_parts")

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context
        self._parts: tuple[Any, Any, Any, Any] = (None, None, None, None)
        self._bound: Any = None

    def _logger(self) -> Any:
        p, w, f, c = parts = _CONFIG_VIEW.parts()
        old = self._parts
        if p is not old[0] or w is not old[1] or f is not old[2] or c is not old[3]:
            self._bound = structlog.get_logger().bind(**self._context)
            self._parts = parts
        return self._bound

    def bind(self, **more: Any) -> _Logger:
        child = _Logger({**self._context, **more})
        child._bound = self._logger().bind(**more)  # structlog's own bind: a dict merge
        child._parts = self._parts
        return child

    def enabled(self, level: int) -> bool:
        """True when a line at ``level`` (``logging.INFO`` ...) would be written.

        For hot paths whose log arguments cost more than the filtered call itself. With
        structlog's filtering wrappers (``make_filtering_bound_logger``: the answer is fixed
        by the wrapper class, whatever the logger) it is remembered per wrapper and level.
        """
        cfg = _CONFIG_VIEW._cfg
        wrapper = cfg.default_wrapper_class if cfg is not None else None
        known = _ENABLED.get(wrapper)  # filtering wrappers only: the configured one's answers
        if known is not None:
            answer = known.get(level)
            if answer is not None:
                return answer
        if wrapper is None or getattr(wrapper, "__module__", None) != _FILTERING_MODULE:
            return bool(self._logger().is_enabled_for(level))
        if known is None:
            known = _ENABLED[wrapper] = {}
        answer = known[level] = bool(self._logger().is_enabled_for(level))
        return answer

    # the logging methods are spelled out: ``__getattr__`` only runs after a failed
    # lookup, which costs more than the log call itself
    def debug(self, event: str, **kw: Any) -> Any:
        return self._logger().debug(event, **kw)

    def info(self, event: str, **kw: Any) -> Any:
        return self._logger().info(event, **kw)

    def warning(self, event: str, **kw: Any) -> Any:
        return self._logger().warning(event, **kw)

    def error(self, event: str, **kw: Any) -> Any:
        return self._logger().error(event, **kw)

    def exception(self, event: str, **kw: Any) -> Any:
        return self._logger().exception(event, **kw)

    def critical(self, event: str, **kw: Any) -> Any:
        return self._logger().critical(event, **kw)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy/pickle probe dunders on a half-built instance
            raise AttributeError(name)
        return getattr(self._logger(), name)


def get_logger(**bind: Any) -> Any:
    """Return a structlog logger with ``bind`` context (engine, symbol, ...).

    The logger stays lazy: it follows the configuration in force when it logs, so a
    module-level logger created before ``configure_logging`` still obeys it.
    """
    return _Logger(bind)
