"""The admin console's Overview in a real browser (issue 17): after real conversations through
kithost on the fake model, the charts (uPlot, vendored) show the numbers that were done; the
range switches; a workflow and then a user narrow every chart.

Headless Chromium (Debian's) drives a real ``kithost serve``; SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import chromium, screenshot_path
from tests.support.fake_model import FakeModelServer
from tests.support.process import ADMIN_KEY, KithostProcess
from tests.support.usage_seeding import ALPHA, BETA, Traffic, traffic_on, usage_env
from tests.support.workflow_files import serving

expect.set_options(timeout=20_000)

CHARTS = ("conversations", "messages", "active-users", "tokens", "latency", "errors", "refusals")


@pytest.fixture(scope="module")
def console_server(
    database_url: str, fake: FakeModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KithostProcess]:
    workdir = tmp_path_factory.mktemp("console-overview")
    with serving(database_url, workdir, usage_env(fake, workdir / "workflows")) as process:
        yield process


@pytest.fixture(scope="module")
def browser(console_server: KithostProcess) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def traffic(console_server: KithostProcess, fake: FakeModelServer) -> Iterator[Traffic]:
    with traffic_on(console_server, fake, uuid.uuid4().hex[:8]) as seeded:
        yield seeded


def shown(expected: dict[str, Any]) -> dict[str, str]:
    """What each chart's summary number reads for these totals."""
    refusals = expected["refusals"]
    return {
        "conversations": f"{expected['conversations']:,}",
        "messages": f"{expected['messages']:,}",
        "active-users": f"{expected['active_users']:,}",
        "tokens": f"{expected['input_tokens'] + expected['output_tokens']:,}",
        "refusals": "n/a" if refusals is None else f"{refusals:,}",
        "errors": (
            f"{expected['failed_runs'] / expected['runs'] * 100:.1f} %" if expected["runs"] else "—"
        ),
    }


def expect_totals(page: Page, expected: dict[str, Any]) -> None:
    for chart, text in shown(expected).items():
        expect(page.locator(f'output[data-total="{chart}"]')).to_have_text(text)
    note = page.locator('[data-chart="tokens"] .chart-note')
    expect(note).to_contain_text(
        f"{expected['input_tokens']:,} in · {expected['output_tokens']:,} out"
    )
    expect(page.locator('[data-chart="errors"] .chart-note')).to_contain_text(
        f"{expected['failed_runs']} of {expected['runs']} runs"
    )


def test_overview_shows_what_was_done_and_drills_down(
    page: Page, console_server: KithostProcess, traffic: Traffic, tmp_path: Path
) -> None:
    page.goto(f"{console_server.url}/admin")
    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Open the console").click()
    # The console opens on the Overview.
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    expect(page.locator("#overview-scope")).to_contain_text("All traffic · per hour")
    expect_totals(page, traffic.expected())
    # Every chart with data is drawn (uPlot's canvas), one series per workflow and model.
    for chart in CHARTS:
        expect(page.locator(f'[data-chart="{chart}"] canvas')).to_have_count(1)
    legend = page.locator('[data-chart="tokens"] .u-legend')
    expect(legend).to_contain_text(f"{ALPHA} · gpt-4.1-mini")
    expect(legend).to_contain_text(f"{BETA} · gpt-4.1-nano")
    expect(page.locator("output[data-total=latency]")).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    page.screenshot(path=screenshot_path(tmp_path, "screenshot-overview.png"), full_page=True)

    page.get_by_role("button", name="7 d").click()
    expect(page.get_by_role("button", name="7 d")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#overview-scope")).to_contain_text("per UTC day")
    expect_totals(page, traffic.expected())

    page.locator("#overview-workflows").get_by_role("link", name=ALPHA).click()
    expect(page.locator("#overview-scope")).to_contain_text(f"workflow {ALPHA}")
    expect(page.locator("#overview-filter").get_by_label("Workflow")).to_have_value(ALPHA)
    expect_totals(page, traffic.expected(workflow=ALPHA))
    expect(page.locator('[data-chart="tokens"] .u-legend')).not_to_contain_text(BETA)

    bob = traffic.turns[2].user
    page.locator("#overview-users").get_by_role("link", name=bob).click()
    expect(page.locator("#overview-scope")).to_contain_text(f"user {bob}")
    expect_totals(page, traffic.expected(workflow=ALPHA, user=bob))
    expect(page.locator('[data-chart="refusals"]')).to_contain_text("not per user")

    page.get_by_role("button", name="All traffic").click()
    expect(page.locator("#overview-scope")).to_contain_text("All traffic · per UTC day")
    expect_totals(page, traffic.expected())
