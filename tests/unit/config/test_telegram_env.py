"""Telegram settings in .env: chat ids, what TELEGRAM_ENABLED needs, the token stays secret."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config import ConfigValidationError, EnvConfig, UnifiedConfig, load_env
from kinetic.app import run_daemon


def test_chat_ids_one_or_several_comma_separated() -> None:
    env = load_env(None, {"TELEGRAM_CHAT_ID": "123456789, -1001234567890"})
    assert env.telegram_chat_ids() == (123456789, -1001234567890)
    assert load_env(None, {}).telegram_chat_ids() == ()


def test_chat_id_not_an_integer_names_the_variable() -> None:
    with pytest.raises(ConfigValidationError) as err:
        load_env(None, {"TELEGRAM_CHAT_ID": "123,@mychannel"})
    assert "TELEGRAM_CHAT_ID" in str(err.value)
    assert "integers" in str(err.value)


def test_enabled_needs_token_and_chat_id() -> None:
    assert EnvConfig().missing_telegram() == []  # off: nothing needed
    assert EnvConfig(telegram_enabled=True).missing_telegram() == [
        "TELEGRAM_TOKEN", "TELEGRAM_CHAT_ID"
    ]  # fmt: skip
    env = load_env(None, {"TELEGRAM_ENABLED": "true", "TELEGRAM_TOKEN": "1:abcd"})
    assert env.missing_telegram() == ["TELEGRAM_CHAT_ID"]
    env = load_env(None, {"TELEGRAM_ENABLED": "true", "TELEGRAM_TOKEN": "1:abcd",
                          "TELEGRAM_CHAT_ID": "5"})  # fmt: skip
    assert env.missing_telegram() == []


def test_run_refuses_to_start_without_the_token(tmp_path: Path) -> None:
    env = load_env(None, {"TELEGRAM_ENABLED": "true", "TELEGRAM_CHAT_ID": "5"})
    config = UnifiedConfig(sqlite_path=str(tmp_path / "k.db"))
    with pytest.raises(ConfigValidationError, match="TELEGRAM_ENABLED=true needs TELEGRAM_TOKEN"):
        asyncio.run(run_daemon(config, env, "replay"))
    assert not (tmp_path / "k.db").exists()  # refused before anything started


def test_token_is_a_secret_for_redaction() -> None:
    env = load_env(None, {"TELEGRAM_TOKEN": "123456:SECRET-token-value"})
    assert "123456:SECRET-token-value" in env.secrets()
    assert "SECRET" not in repr(env)
