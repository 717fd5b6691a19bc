"""Build the Telegram notifier from the configuration (called by the composition root)."""

from __future__ import annotations

from config import EnvConfig, UnifiedConfig
from kinetic.clock import Clock
from kinetic.notify.alerts import AlertFeed, AlertQueue
from kinetic.notify.telegram.bot import TelegramNotifier
from kinetic.notify.telegram.client import BotApi
from kinetic.notify.telegram.commands import CommandRouter


def build_telegram(
    config: UnifiedConfig, env: EnvConfig, clock: Clock, *, router: CommandRouter | None = None
) -> tuple[TelegramNotifier, AlertFeed] | None:
    """The notifier and the recorder listener feeding it; None when Telegram is off.

    ``env.missing_telegram()`` must be empty (checked before the daemon starts).
    """
    if not env.telegram_enabled:
        return None
    assert env.telegram_token is not None
    queue = AlertQueue(config.telegram_alert_queue_size)
    api = BotApi(config.telegram_api_url, env.telegram_token)
    notifier = TelegramNotifier(
        api,
        env.telegram_chat_ids(),
        queue,
        router,
        clock,
        min_interval_s=config.telegram_min_send_interval_seconds,
        poll_timeout_s=config.telegram_poll_timeout_seconds,
    )
    return notifier, AlertFeed(queue, fills=config.telegram_fill_alerts)
