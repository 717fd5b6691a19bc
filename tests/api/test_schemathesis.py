"""schemathesis against the OpenAPI document: every documented operation, generated
inputs (valid and not), no 5xx, and every answer matches the document.

The document is built from the route registry at import (the same code that serves
``/api/openapi.json``; a test below checks they are equal); the calls go to a replay
daemon of this module's own (sqlite), since generated kill-switch and pause requests
change its state. Examples per operation are bounded (``MAX_EXAMPLES``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from kinetic.api import openapi
from kinetic.api.server import create_app
from kinetic.storage import resolve_database_url
from tests.api.harness import LiveDaemon

MAX_EXAMPLES = 8


def _document() -> dict[str, Any]:
    return openapi.build(create_app(None))  # type: ignore[arg-type]  # routes only


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture(scope="module")
def st_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveDaemon]:
    tmp: Path = tmp_path_factory.mktemp("api-schemathesis")
    daemon = LiveDaemon(resolve_database_url(None, str(tmp / "kinetic.db")), tmp)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def test_the_served_document_is_the_one_tested(st_daemon: LiveDaemon) -> None:
    served = requests.get(st_daemon.url + "/api/openapi.json", timeout=10).json()
    assert served == _document()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case: Any, st_daemon: LiveDaemon) -> None:
    response = case.call(base_url=st_daemon.url, timeout=30)
    # positive_data_acceptance does not know 428 (confirmation required, documented per
    # operation); status_code_conformance still holds every answer to the document
    case.validate_response(
        response,
        additional_checks=[not_a_server_error],
        excluded_checks=[positive_data_acceptance],
    )
