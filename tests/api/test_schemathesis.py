"""Schemathesis over the whole OpenAPI schema, in-process against the WSGI app, as two roles:
the OKU Timur admin (who may do nearly everything) and the OKU Timur Bawaslu supervisor (who
reads everything and may change nothing). Every operation gets valid and invalid input; the
test fails on any server error, any status the schema does not declare, any response that does
not fit its schema or content type. Findings are gathered over all operations and listed at
once. ``SIAGA_SCHEMATHESIS_EXAMPLES`` sets the examples per operation, mode and role."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from siaga.accounts.models import User
from siaga.accounts.services import issue_api_token
from tests.conftest import World

EXAMPLES = int(os.environ.get("SIAGA_SCHEMATHESIS_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Routes whose effect ends the run's own access are left out: revoking a token the fuzzer
# finds would sign the role out for every later operation (the route itself has its tests).
SKIPPED = {("DELETE", "/api/v1/auth/tokens/{token_id}")}


def _operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIPPED:
            yield operation


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    statuses: Counter[int],
    path_parameters: dict[str, str] | None = None,
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def _seed(world: World) -> dict[str, str]:
    """An incident and an alarm at the OKU Timur warehouse, so that the lists have rows to
    show and the routes of one row can be reached."""
    from siaga.accounts.models import User as Account
    from siaga.alarms.services import raise_alarm
    from siaga.incidents.services import report_incident

    guard = Account.objects.get(username="jaga.okut")
    incident = report_incident(
        actor=guard, category="banjir", severity=2, site_id=world.warehouse_okut.pk
    ).incident
    alarm = raise_alarm(
        source="hazards",
        key="sensor:HUM-B-02",
        kind="humidity_high",
        site=world.warehouse_okut,
        severity="warning",
        message="Kelembapan Gudang B 88%",
    )
    from siaga.safety.demo import equipment_id, seed

    seed(world.warehouse_okut, sweep=False)
    return {
        "site_id": str(world.warehouse_okut.pk),
        "incident_id": str(incident.pk),
        "alarm_id": str(alarm.pk),
        "equipment_id": str(equipment_id(world.warehouse_okut, "APAR-01")),
        "code": "16.08",
    }


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """The project's WSGI handler, keeping the test's database connection (and so its
    transaction) open between requests, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.parametrize("persona", ["admin_okut", "bawaslu_okut"])
def test_the_whole_schema_holds_for_a_role(
    world: World, wsgi_app: WSGIHandler, request: pytest.FixtureRequest, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)
    known = _seed(world)
    _token, raw = issue_api_token(actor=user, name="schemathesis")
    headers = {"Authorization": f"Bearer {raw}", "Accept-Language": "en"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    findings: list[str] = []
    operations = 0
    statuses: Counter[int] = Counter()
    for operation in _operations(schema):
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, headers, statuses)
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters, or a path
                # parameter that any string fits.
                assert mode is GenerationMode.NEGATIVE, operation.path
            except (Exception, BaseExceptionGroup) as exc:  # listed, then the next one
                findings.append(f"{operation.method.upper()} {operation.path} [{mode}]: {exc}")
        names = {parameter.name for parameter in operation.path_parameters}
        if names and names <= set(known):
            # Random ids mostly answer 404; once more with the ids of rows that exist.
            fixed = {name: known[name] for name in names}
            try:
                _fuzz(operation, GenerationMode.POSITIVE, headers, statuses, fixed)
            except (Exception, BaseExceptionGroup) as exc:
                findings.append(f"{operation.method.upper()} {operation.path} {fixed}: {exc}")
    print(f"{persona}: {operations} operations, statuses {sorted(statuses.items())}")
    assert operations > 50
    assert statuses[200] + statuses[201] > operations  # reaching past the refusals
    assert not findings, "\n\n".join(findings)
