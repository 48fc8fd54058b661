"""Fuzzing (issue 19): schemathesis generates requests for every operation of the OpenAPI schema — valid ones and
ones that break it — anonymously and with an admin token, against the world's app (Monaco, a user of every role,
cases in it), on both databases. The one property: no answer is a server error (5xx). A finding is fixed in the
code, never excluded here. Few examples per operation keep `make test` quick; a manual `schemathesis run` against a
served demo goes further (README: Security and privacy)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = 2
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _server_errors(app, headers: dict[str, str]) -> list[str]:
    """Every operation fuzzed; the requests that got a 5xx, as 'METHOD path → status: body'."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    found: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                found.append(f"{case.method} {case.formatted_path} {case.query or ''} {case.body!r:.200} → "
                             f"{response.status_code}: {response.text[:300]}")

        fuzz()
    assert operations > 100  # the whole API was fuzzed, not an empty schema
    return found


def test_no_operation_answers_an_anonymous_caller_with_a_server_error(world):
    assert _server_errors(world.client.app, {}) == []


def test_no_operation_answers_an_admin_with_a_server_error(world):
    assert _server_errors(world.client.app, world.h("admin")) == []
