"""schemathesis generates requests for every operation of the OpenAPI spec (hypothesis, from
the schema): no answer may be a server error, and every error keeps the one JSON shape."""

from __future__ import annotations

from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.service_fixtures import token

NEEDS_LOGIN = ("/fhir", "/api/cargas", "/api/quarentena", "/api/qualidade/{municipio}")


def test_every_operation_without_a_server_error(app: FastAPI, client: TestClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    analyst = token(client, "ana")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 12
    seen: dict[str, int] = {}

    for operation in operations:
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case: Any) -> None:
            if case.path in NEEDS_LOGIN or case.path.startswith("/api/carteira"):
                case.headers = {**(case.headers or {}), **analyst}
            response = case.call()
            case.validate_response(response, checks=(not_a_server_error,))
            seen[case.path] = seen.get(case.path, 0) + 1
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"erro"}, body
                assert body["erro"]["status"] == response.status_code

        exercise()
    assert len(seen) == len({op.path for op in operations})
    # the generated logins fail by the hundred: the address is throttled now (429), as it
    # should be; give the tests that follow a clean slate
    app.state.login_guard.clear(app.state.ctx.store)
