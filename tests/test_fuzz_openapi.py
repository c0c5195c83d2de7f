"""Schemathesis against a running kithost, from its own ``/v1/openapi.json``, on both databases.

Every operation is fuzzed (examples, boundary values, random and invalid data) with kithost's
credentials, and then whole scenarios follow the document's links (create → get → delete). The
server checks always hold: never a 5xx, a created object can be read, a deleted one is gone,
and an operation that needs credentials refuses a request without them. The document checks
(statuses, content types, response schemas, accepted and refused inputs as documented) hold
when DOCUMENT_IS_HONEST: the document says what the server does.

``make test`` runs a bounded number of examples; ``make fuzz`` many more (KITHOST_FUZZ_EXAMPLES).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from hypothesis import settings
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.support.chatkit_client import ChatKitClient, user_input
from tests.support.fuzz import ClientSecrets, Tally, examples, fuzz_settings
from tests.support.fuzz_openapi import AnyCase, counting_session, fuzz_operation, load_schema
from tests.support.process import KithostProcess

# The document checks: on once /v1/openapi.json describes every status, body and credential.
DOCUMENT_IS_HONEST = True
EXAMPLES = examples(20)
# Steps per stateful scenario, and scenarios.
MAX_STEPS = 6
SCENARIOS = max(10, EXAMPLES)
# pytest-timeout for one test: generous, since a hang is caught per request by the client.
TIMEOUT = 240 + 8 * EXAMPLES


@pytest.fixture(scope="module")
def secrets(server: KithostProcess) -> ClientSecrets:
    secrets = ClientSecrets(server.url)
    # A few threads with answers, so that listing them leads somewhere.
    with ChatKitClient(server.url, secrets.current()) as client:
        for text in ("first thread", "second thread"):
            created = client.stream("threads.create", input=user_input(text))
            assert created.status_code == 200, created.body
    return secrets


@pytest.fixture(scope="module")
def tally(backend: str) -> Iterator[Tally]:
    tally = Tally(f"openapi ({backend})")
    yield tally
    print(tally.summary())


@pytest.fixture(scope="module")
def session(tally: Tally) -> Iterator[requests.Session]:
    with counting_session(tally) as session:
        yield session


@pytest.fixture(scope="module")
def openapi_schema(server: KithostProcess, secrets: ClientSecrets) -> OpenApiSchema:
    return load_schema(
        server.url,
        secrets,
        strict=DOCUMENT_IS_HONEST,
        max_examples=EXAMPLES,
        max_steps=MAX_STEPS,
    )


@pytest.mark.timeout(TIMEOUT)
def test_every_operation(
    openapi_schema: OpenApiSchema, session: requests.Session, tally: Tally
) -> None:
    results = list(openapi_schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), [r.err() for r in results if isinstance(r, Err)]
    assert len(operations) > 30, [operation.label for operation in operations]
    for operation in operations:
        for kind, problem in fuzz_operation(operation, session, fuzz_settings(EXAMPLES)):
            tally.note_failure(kind, problem, len(problem))
    if tally.failures:
        pytest.fail(tally.report(), pytrace=False)


@pytest.mark.timeout(TIMEOUT)
def test_linked_scenarios(
    openapi_schema: OpenApiSchema, session: requests.Session, tally: Tally
) -> None:
    machine = openapi_schema.as_state_machine()

    class Scenarios(machine):  # type: ignore[valid-type,misc]
        def get_call_kwargs(self, case: AnyCase) -> dict[str, object]:
            return {"session": session}

    scenario_settings = fuzz_settings(SCENARIOS)
    try:
        Scenarios.run(settings=settings(scenario_settings, stateful_step_count=MAX_STEPS))
    except (Exception, BaseExceptionGroup) as error:  # Schemathesis's FailureGroup is the latter
        tally.note_failure("linked scenarios", str(error), len(str(error)))
        raise
