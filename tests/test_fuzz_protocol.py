"""A ChatKit-protocol fuzzer against ``POST /v1/chatkit/conversation``, on both databases.

Requests are built from the SDK's own request models (tests/support/fuzz_protocol.py), with the
ids of threads, items and attachments that exist mixed in, hostile strings, sizes and nesting,
and sent with a valid client secret. Whatever is sent: never a 5xx (nor a ``stream.error`` in a
200 stream), never a hang, never a 200 stream without an event, errors in the OpenAI envelope,
and an accepted message is in its thread as sent (tests/support/fuzz_probe.py).

``make test`` sends a bounded number of requests; ``make fuzz`` many more (KITHOST_FUZZ_EXAMPLES).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.chatkit_client import DEMO, ChatKitClient, create_session, user_input
from tests.support.fuzz import ClientSecrets, Tally, examples, fuzz_settings
from tests.support.fuzz_probe import ProtocolProbe
from tests.support.fuzz_protocol import REQUEST_MODELS, Body, Known, RequestStrategies
from tests.support.process import KithostProcess

# As many examples per request type as Schemathesis makes per operation.
EXAMPLES = examples(20) * len(REQUEST_MODELS)
TIMEOUT = 240 + EXAMPLES


@pytest.fixture(scope="module")
def secrets(server: KithostProcess) -> ClientSecrets:
    return ClientSecrets(server.url)


@pytest.fixture(scope="module")
def known(server: KithostProcess, secrets: ClientSecrets) -> Known:
    """Threads with answers (one from the demo workflow, with a widget), and an attachment."""
    known = Known()
    with ChatKitClient(server.url, secrets.current()) as client:
        for text in ("first thread", "second thread"):
            created = client.create_thread(text)
            assert created.status_code == 200, created.body
            known.add_thread(created.thread_id)
            for item in created.done_items():
                known.add_item(created.thread_id, item["id"])
        uploaded = client.upload("notes.txt", b"some notes", "text/plain")
        assert uploaded.status_code == 200, uploaded.text
        known.add_attachment(uploaded.json()["id"])
    demo = create_session(server.url, secrets.user, DEMO)
    with ChatKitClient(server.url, demo["client_secret"]) as client:
        created = client.stream("threads.create", input=user_input("show me a widget"))
        assert created.status_code == 200, created.body
        known.add_thread(created.thread_id)
        for item in created.done_items():
            known.add_item(created.thread_id, item["id"])
    return known


@pytest.fixture(scope="module")
def tally(backend: str) -> Iterator[Tally]:
    tally = Tally(f"protocol ({backend})")
    yield tally
    print(tally.summary())


@pytest.fixture(scope="module")
def probe(
    server: KithostProcess, secrets: ClientSecrets, known: Known, tally: Tally
) -> Iterator[ProtocolProbe]:
    probe = ProtocolProbe(server.url, secrets, known, tally)
    yield probe
    probe.close()


@pytest.fixture(scope="module")
def bodies(known: Known) -> st.SearchStrategy[Body]:
    return RequestStrategies(known).bodies()


@pytest.mark.timeout(TIMEOUT)
def test_no_request_breaks_the_conversation(
    probe: ProtocolProbe, bodies: st.SearchStrategy[Body], tally: Tally
) -> None:
    # Every example is sent, failing or not: a failure is noted with the smallest body that
    # showed it (the server's state moves on, so Hypothesis could not replay it to shrink).
    @fuzz_settings(EXAMPLES)
    @given(body=bodies)
    def send(body: Body) -> None:
        try:
            probe.check(body)
        except AssertionError as error:
            kind = str(error).split(" for ", 1)[0][:120]
            tally.note_failure(f"{kind} ({body.kind})", str(error), len(body.data))

    send()
    if tally.failures:
        pytest.fail(tally.report(), pytrace=False)


def test_nothing_went_wrong_unseen(server: KithostProcess) -> None:
    """No request above made kithost log an unhandled error, even one the client never saw."""
    log = server.log_path.read_text(errors="replace")
    assert "Traceback (most recent call last)" not in log, log[-5000:]
