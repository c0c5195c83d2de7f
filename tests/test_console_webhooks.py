"""The admin console's Webhooks tab in a real browser (issue 16).

Headless Chromium (Debian's) drives a real ``kithost serve``. A receiver in the test process
(tests/support/webhook_receiver.py) verifies every delivery with the signing secret the page
showed. Runs are server-side turns of the echo workflow (``POST /v1/chatkit/threads`` with the
admin key and ``wait: true``). On SQLite and PostgreSQL, as the other console tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from tests.support.browser import ADMIN_HEADERS, admin_get, chromium, screenshot_path
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.waiting import eventually, unique
from tests.support.webhook_receiver import Hook, Received, WebhookReceiver

expect.set_options(timeout=20_000)

# Two attempts a second apart, then `failed`: a refusing receiver fails a delivery quickly.
RETRIES = {"KITHOST_WEBHOOK_RETRY_SCHEDULE": "1", "KITHOST_WEBHOOK_TIMEOUT_SECONDS": "5"}
BRIEF = {"delay_ms": 1, "repeat": 2}  # the echo workflow's answer: quick
PAGE_SIZE = 20  # the Webhooks tab's page of deliveries


@pytest.fixture(scope="module")
def console_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("console-webhooks")
    process = KithostProcess(database_url, workdir, RETRIES).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser(console_server: KithostProcess) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def arrived(hook: Hook, user: str, count: int = 1) -> list[Received]:
    """The ``run.completed`` attempts about ``user``'s runs, once ``count`` have arrived."""

    def enough() -> list[Received] | None:
        hits = hook.of(user, "run.completed")
        return hits if len(hits) >= count else None

    return eventually(enough)


def server_turn(base_url: str, user: str, text: str = "hello") -> dict[str, Any]:
    """A new thread for ``user`` with one answered message; its run, once it has ended."""
    response = httpx.post(
        f"{base_url}/v1/chatkit/threads",
        headers=ADMIN_HEADERS,
        json={
            "user": user,
            "workflow": {"id": "wf_kithost_echo", "state_variables": BRIEF},
            "input": {"content": [{"type": "input_text", "text": text}]},
            "wait": True,
        },
        timeout=60,
    )
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()["run"]
    assert run["status"] == "completed"
    return run


def open_webhooks(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin")
    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Open the console").click()
    page.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()


def add_endpoint(page: Page, url: str, events: list[str], description: str = "") -> None:
    form = page.locator("#webhook-create")
    form.get_by_label("URL").fill(url)
    for box in form.locator("input[name=events]").all():
        box.set_checked(box.get_attribute("value") in events)
    form.get_by_label("Description").fill(description)
    form.get_by_role("button", name="Add endpoint").click()


def endpoint_row(page: Page, url: str) -> Locator:
    return page.locator("#webhooks-rows tr").filter(
        has=page.get_by_role("link", name=url, exact=True)
    )


def delivery_row(page: Page, delivery_id: str) -> Locator:
    return page.locator(f'#webhook-deliveries tr[data-delivery-id="{delivery_id}"]')


def answer_dialog(page: Page, accept: bool) -> None:
    """The next confirm() is answered OK (``accept``) or Cancel."""

    def answer(dialog: Dialog) -> None:
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", answer)


def endpoint_status(base_url: str, endpoint_id: str) -> int:
    response = httpx.get(
        f"{base_url}/v1/chatkit/webhooks/{endpoint_id}", headers=ADMIN_HEADERS, timeout=10
    )
    return response.status_code


def test_an_endpoint_added_in_the_console_gets_deliveries_and_a_failed_one_is_resent(
    page: Page, console_server: KithostProcess, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    base = console_server.url
    hook = receiver.hook()
    url = receiver.url(hook)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    open_webhooks(page, base)
    add_endpoint(page, url, ["run.completed", "run.failed"], "Order desk")

    # The new secret, shown once with a copy button and a word on verifying.
    panel = page.locator("#webhook-new-secret")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(url)
    expect(panel).to_contain_text("docs/server-runs.md")
    secret_box = panel.get_by_label("Signing secret")
    expect(secret_box).to_have_value(re.compile(r"^whsec_\S+$"))
    secret = secret_box.input_value()
    panel.get_by_role("button", name="Copy").click()
    expect(panel.get_by_role("status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    hook.secret = secret

    row = endpoint_row(page, url)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Order desk")
    expect(row.locator(".event-type")).to_have_text(["run.completed", "run.failed"])
    expect(row).to_contain_text("enabled")
    endpoint_id = row.get_attribute("data-endpoint-id")
    assert endpoint_id is not None
    assert endpoint_id.startswith("whep_")
    endpoint = admin_get(base, f"/webhooks/{endpoint_id}")
    assert (endpoint["url"], endpoint["events"], endpoint["enabled"]) == (
        url,
        ["run.completed", "run.failed"],
        True,
    )
    assert endpoint["description"] == "Order desk"
    assert admin_get(base, f"/webhooks/{endpoint_id}/secret") == {"secret": secret}

    # A run ends: the receiver gets it, signed with the secret the page showed, and the
    # endpoint's page shows the delivery as delivered with the receiver's 200.
    user = unique("console-webhooks")
    run = server_turn(base, user)
    [completed] = arrived(hook, user)
    assert completed.verified
    assert completed.data["id"] == run["id"]
    row.get_by_role("link", name=url).click()
    expect(page.get_by_role("heading", name=url)).to_be_visible()
    expect(page.locator("#webhook-description")).to_have_text("Order desk")
    delivered = delivery_row(page, completed.webhook_id)
    expect(delivered).to_have_attribute("data-status", "delivered")
    expect(delivered).to_contain_text("run.completed")
    expect(delivered.locator(".delivery-attempts")).to_have_text("1")
    expect(delivered.locator(".delivery-code")).to_have_text("200")
    expect(delivered.locator(".delivery-error")).to_have_text("—")
    expect(delivered.locator(".delivery-delivered")).not_to_have_text("—")

    # The receiver refuses: both attempts get a 500 and the delivery ends failed.
    hook.refusing = True
    server_turn(base, user)
    refused = arrived(hook, user, count=3)[1:]
    assert [attempt.status for attempt in refused] == [500, 500]
    failed_id = refused[0].webhook_id
    assert refused[1].webhook_id == failed_id
    page.get_by_role("button", name="Refresh").click()
    failed = delivery_row(page, failed_id)
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.locator(".delivery-attempts")).to_have_text("2")
    expect(failed.locator(".delivery-code")).to_have_text("500")
    expect(failed.locator(".delivery-error")).to_contain_text("500")
    expect(failed.locator(".delivery-delivered")).to_have_text("—")
    # Newest first: the failed delivery above the delivered one.
    expect(page.locator("#webhook-deliveries tr")).to_have_count(2)
    expect(page.locator("#webhook-deliveries tr").first).to_have_attribute(
        "data-delivery-id", failed_id
    )

    page.screenshot(path=screenshot_path(tmp_path, "screenshot-webhooks.png"))

    # Fixed, then Resend: one more attempt with the same webhook-id, and it is delivered.
    hook.refusing = False
    failed.get_by_role("button", name="Resend").click()
    expect(failed).to_have_attribute("data-status", "delivered")
    expect(failed.locator(".delivery-attempts")).to_have_text("3")
    expect(failed.locator(".delivery-code")).to_have_text("200")
    expect(failed.locator(".delivery-error")).to_have_text("—")
    resent = arrived(hook, user, count=4)[-1]
    assert (resent.webhook_id, resent.status, resent.verified) == (failed_id, 200, True)
    assert hook.attempts()[failed_id] == 3

    # Deleted from the list, once confirmed.
    page.get_by_role("link", name="← Webhooks").click()
    remove = row.get_by_role("button", name="Delete")
    answer_dialog(page, accept=False)
    remove.click()
    expect(row).to_have_count(1)
    assert endpoint_status(base, endpoint_id) == 200
    answer_dialog(page, accept=True)
    remove.click()
    expect(row).to_have_count(0)
    assert endpoint_status(base, endpoint_id) == 404


def test_refused_input_secrets_enabling_and_deleting_from_the_endpoint_page(
    page: Page, console_server: KithostProcess, receiver: WebhookReceiver
) -> None:
    base = console_server.url
    hook = receiver.hook()
    url = receiver.url(hook)
    open_webhooks(page, base)
    error = page.locator("#webhook-create-error")
    add_endpoint(page, "ftp://files.example.com/hook", ["thread.created"])
    expect(error).to_contain_text("Invalid 'url'")
    add_endpoint(page, url, [])
    expect(error).to_have_text("Choose at least one event.")
    expect(endpoint_row(page, url)).to_have_count(0)

    add_endpoint(page, url, ["thread.created"])
    expect(error).to_be_hidden()
    secret = page.locator("#webhook-new-secret").get_by_label("Signing secret").input_value()
    hook.secret = secret
    endpoint_row(page, url).get_by_role("link", name=url).click()
    expect(page.get_by_role("heading", name=url)).to_be_visible()
    endpoint_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#webhook-deliveries-empty")).to_be_visible()

    # Reveal shows the current secret; a rotation needs a yes, then shows the new one.
    shown = page.locator("#webhook-secret").get_by_label("Signing secret")
    page.get_by_role("button", name="Reveal secret").click()
    expect(shown).to_have_value(secret)
    page.get_by_role("button", name="Hide secret").click()
    expect(shown).to_have_count(0)
    answer_dialog(page, accept=False)
    page.get_by_role("button", name="Rotate secret").click()
    expect(shown).to_have_count(0)
    assert admin_get(base, f"/webhooks/{endpoint_id}/secret") == {"secret": secret}
    answer_dialog(page, accept=True)
    page.get_by_role("button", name="Rotate secret").click()
    expect(shown).to_have_value(re.compile(r"^whsec_\S+$"))
    rotated = hook.secret = shown.input_value()
    assert rotated != secret
    assert admin_get(base, f"/webhooks/{endpoint_id}/secret") == {"secret": rotated}

    # Disabled, it gets no delivery for a new thread; enabled again.
    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#webhook-meta .status-disabled")).to_have_text("disabled")
    expect(page.locator("#webhook-paused")).to_be_visible()
    assert admin_get(base, f"/webhooks/{endpoint_id}")["enabled"] is False
    server_turn(base, unique("console-webhooks-off"))  # its outbox rows are written by now
    assert admin_get(base, f"/webhooks/{endpoint_id}/deliveries")["data"] == []
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#webhook-deliveries-empty")).to_be_visible()
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#webhook-meta .status-enabled")).to_have_text("enabled")
    expect(page.locator("#webhook-paused")).to_be_hidden()
    assert admin_get(base, f"/webhooks/{endpoint_id}")["enabled"] is True

    answer_dialog(page, accept=False)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name=url)).to_be_visible()
    assert endpoint_status(base, endpoint_id) == 200
    answer_dialog(page, accept=True)
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(endpoint_row(page, url)).to_have_count(0)
    assert endpoint_status(base, endpoint_id) == 404


def test_deliveries_come_a_page_at_a_time(
    page: Page, console_server: KithostProcess, receiver: WebhookReceiver
) -> None:
    base = console_server.url
    hook = receiver.hook()
    created = httpx.post(
        f"{base}/v1/chatkit/webhooks",
        headers=ADMIN_HEADERS,
        json={"url": receiver.url(hook), "events": ["thread.created", "run.completed"]},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    endpoint_id, hook.secret = created.json()["id"], created.json()["secret"]
    try:
        for turn in range(PAGE_SIZE // 2 + 1):  # two deliveries each: one page and two more
            server_turn(base, unique("console-webhooks-pages"), f"message {turn}")

        def all_delivered() -> list[str] | None:
            listing = admin_get(base, f"/webhooks/{endpoint_id}/deliveries", limit=100)
            statuses = {delivery["status"] for delivery in listing["data"]}
            return [d["id"] for d in listing["data"]] if statuses == {"delivered"} else None

        newest_first = eventually(all_delivered)
        assert len(newest_first) == PAGE_SIZE + 2

        open_webhooks(page, base)
        page.goto(f"{base}/admin#webhooks/{endpoint_id}")  # a link straight to the endpoint
        rows = page.locator("#webhook-deliveries tr")
        expect(rows).to_have_count(PAGE_SIZE)
        more = page.get_by_role("button", name="Load more")
        more.click()
        expect(rows).to_have_count(PAGE_SIZE + 2)
        expect(more).to_be_hidden()
        shown = [row.get_attribute("data-delivery-id") for row in rows.all()]
        assert shown == newest_first
    finally:
        httpx.delete(f"{base}/v1/chatkit/webhooks/{endpoint_id}", headers=ADMIN_HEADERS, timeout=10)
