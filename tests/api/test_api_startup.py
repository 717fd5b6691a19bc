"""The daemon refuses an exposed API without a token, and a port it cannot bind."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from config import EnvConfig
from kinetic.app import Daemon, StartupError
from tests.integration.daemon.support import cli_env, fast_config, run_cli


def test_api_off_loopback_without_token_exits_2_naming_both_fields(tmp_path: Path) -> None:
    env = cli_env(KINETIC_API_HOST="0.0.0.0", KINETIC_SQLITE_PATH=str(tmp_path / "k.db"))
    done = run_cli("run", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "api_host" in lines[0]
    assert "KINETIC_API_TOKEN" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "k.db").exists()  # refused before the database was touched


def test_api_off_loopback_with_a_token_passes_the_check(tmp_path: Path) -> None:
    from kinetic.app_startup import check_api_exposure

    config = fast_config(tmp_path / "k.db", api_host="0.0.0.0")
    with pytest.raises(Exception, match="KINETIC_API_TOKEN"):
        check_api_exposure(config, EnvConfig())
    check_api_exposure(config, EnvConfig(kinetic_api_token="x" * 20))  # type: ignore[arg-type]
    check_api_exposure(config.model_copy(update={"api_enabled": False}), EnvConfig())


async def test_a_port_in_use_ends_the_start_with_one_line_naming_api_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = fast_config(tmp_path / "k.db", api_port=port)
        daemon = Daemon(config, EnvConfig(), mode="replay")
        with pytest.raises(StartupError, match=f"api_port {port}"):
            await asyncio.wait_for(daemon.run(asyncio.Event()), 60)
    assert daemon.api is None
