"""The ops console in a real browser (Debian's Chromium) against a real stack: `payments run`
(ingress, worker, sink, admin) on the session's broker and a PostgreSQL database of its own.

A refund larger than what its payment has captured so far is dead-lettered
(`refund_exceeds_captured`, the poison). Its cause is then fixed, the rest of the capture is
reported, and ops preview and replay the refund from the console: the payment page shows it
applied and replayed, the audit log records who did it. A viewer may look but not replay;
payload text carrying markup renders inert.

`CONSOLE_SCREENSHOTS=docs/console` saves a screenshot of each page (the README's).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from selenium.webdriver.common.by import By

from common.settings import PipelineSettings
from ops.example_events import example_body
from schemas.providers import Provider
from tests.support.answering import wait_answering
from tests.support.browser import Page, chromium
from tests.support.databases import scratch_database
from tests.support.ingress import stripe_headers
from tests.support.local_stack import running_stack, stack_environment

SECRET = "whsec_console_browser_test"
ADMIN = "ops:5d41402abc4b2a76b9719d911017c592"
VIEWER = "auditor:7d793037a0760186574b0282f2f435e7"
#: Markup in a payload's ids: rendered as text, it runs nothing and changes nothing.
XSS = "<script>window.__xss=1;document.title='pwned'</script>"
STACK_START_SECONDS = 180.0
XSS_PAYMENT = 'pi_xss<img src=x onerror="window.__xss=1">'


@pytest.fixture
def stack(
    make_settings: Callable[..., PipelineSettings], postgres_server_url: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    with scratch_database(postgres_server_url) as database_url:
        environment = stack_environment(make_settings(), database_url) | {
            "STRIPE_WEBHOOK_SECRETS": SECRET,
            "ADMIN_TOKENS": ADMIN,
            "ADMIN_VIEWER_TOKENS": VIEWER,
            "RETRY_DELAYS_SECONDS": "0.5,0.5,0.5",
            "RETRY_ATTEMPTS": "1,1,1",
            "ADMIN_TOPIC_REFRESH_SECONDS": "0.5",
        }
        with running_stack(environment, tmp_path / "state", tmp_path / "stack.log"):
            yield environment


@pytest.fixture
def page(stack: dict[str, str]) -> Iterator[Page]:
    screenshots = os.environ.get("CONSOLE_SCREENSHOTS")
    admin = f"http://127.0.0.1:{stack['ADMIN_PORT']}"
    wait_answering(f"{admin}/health", STACK_START_SECONDS)
    with chromium() as driver:
        yield Page(driver, admin, Path(screenshots).resolve() if screenshots else None)


def send(stack: dict[str, str], body: dict[str, Any]) -> None:
    """A signed Stripe webhook, once ingress is ready; it must be accepted. A 503 is sent
    again, as Stripe would."""
    url = f"http://127.0.0.1:{stack['INGRESS_PORT']}"
    wait_answering(f"{url}/ready", STACK_START_SECONDS)
    content = json.dumps(body).encode()
    deadline = time.monotonic() + 60
    while True:
        headers = stripe_headers(content, SECRET)
        response = httpx.post(f"{url}/webhooks/stripe", content=content, headers=headers)
        if response.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert response.status_code == 200, response.text


def stripe_event(event_type: str, run: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(example_body(Provider.STRIPE, event_type, run))
    return event


def sign_in(page: Page, token: str) -> None:
    page.open("/console/")
    assert page.path == "/console/sign-in"
    page.fill("#token", token)
    page.click(".sign-in button")
    assert page.path == "/console/"


def assert_inert(page: Page) -> None:
    assert page.driver.execute_script("return window.__xss === undefined")
    assert page.driver.title != "pwned"


def test_ops_replay_a_fixed_poison_from_the_console(page: Page, stack: dict[str, str]) -> None:
    run = f"console{time.monotonic_ns() % 10**8}"
    refund = stripe_event("refund.created", run)
    refund["id"] = f"evt_{run}_refund{XSS}"
    intent = refund["data"]["object"]["payment_intent"]
    xss_capture = stripe_event("payment_intent.succeeded", f"{run}x")
    xss_capture["id"] = f"evt_{run}{XSS}"
    xss_capture["data"]["object"]["id"] = XSS_PAYMENT

    # No session: the sign-in page, never data.
    page.open("/console/dlq")
    assert page.path == "/console/sign-in"
    assert "DLQ" not in page.text
    page.screenshot("sign-in")

    full_capture = stripe_event("payment_intent.succeeded", run)
    partial_capture = json.loads(json.dumps(full_capture))
    partial_capture["id"] = f"evt_{run}_partial_capture"
    partial_capture["created"] -= 1
    partial_capture["data"]["object"]["amount_received"] = refund["data"]["object"]["amount"] - 1
    send(stack, partial_capture)
    send(stack, refund)  # more than captured so far: dead-lettered at once
    send(stack, xss_capture)
    sign_in(page, ADMIN)

    page.open("/console/dlq")
    row = page.until(lambda: page.row_with(refund["id"]))
    assert "refund_exceeds_captured" in row.text
    where = row.find_element(By.CSS_SELECTOR, "td a").text  # partition:offset
    assert_inert(page)
    page.screenshot("dlq")

    page.open("/console/")
    # Ingress, worker, sink, database and broker up (a scrape may time out on a busy machine).
    page.until(
        lambda: "refund_exceeds_captured" in page.text and "down" not in page.find("table").text
    )
    page.screenshot("overview")

    page.open("/console/events?q=" + quote(XSS_PAYMENT))
    page.until(lambda: XSS_PAYMENT in page.text)
    assert xss_capture["id"] in page.text  # shown as text
    assert_inert(page)
    page.open("/console/events?q=" + quote(xss_capture["id"]))  # search by event id
    assert len(page.find_all("tbody tr")) == 1
    page.click("tbody a")  # to the payment whose id carries markup
    assert "captured" in page.text
    assert_inert(page)

    # The cause is fixed: the whole capture is reported.
    send(stack, full_capture)
    page.open(f"/console/payments/stripe/{intent}")
    captured = str(full_capture["data"]["object"]["amount_received"])
    page.until(lambda: page.find("#payment-captured").text == captured)

    page.open(f"/console/dlq/{where.replace(':', '/')}")
    assert "refund_exceeds_captured" in page.text
    assert "Rejected" in page.text
    page.screenshot("dlq-message")

    page.click("#replay-one")
    preview = page.find(".preview-row").text
    assert "captured" in preview  # the payment now
    assert "refund" in preview  # what the event would do
    assert f"partially_refunded (captured {captured}, refunded 1500)" in preview  # and make
    assert_inert(page)
    page.screenshot("replay-preview")
    page.click("#confirm-replay")

    assert page.path.startswith("/console/audit")
    entry = page.find(".audit-row").text
    assert "ops" in entry
    assert "replay" in entry
    assert " ok " in f" {entry} "
    page.screenshot("audit")

    page.open(f"/console/payments/stripe/{intent}")
    status = page.until(lambda: (s := page.find("#payment-status").text) != "captured" and s)
    assert status in ("partially_refunded", "refunded")
    assert "replayed" in page.text
    page.screenshot("payment")

    page.open("/console/events?provider=stripe")
    page.screenshot("events")

    # A viewer sees the dlq and the preview, and cannot replay, even with a crafted form.
    page.click("header form button")
    sign_in(page, VIEWER)
    page.open(f"/console/dlq/replay?m={where}")
    assert "Read-only token" in page.text
    assert page.find_all("#confirm-replay") == []
    page.driver.execute_script(
        """
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/console/dlq/replay';
        for (const [name, value] of [['csrf', document.querySelector('input[name=csrf]').value],
                                     ['m', arguments[0]]]) {
          const input = document.createElement('input');
          input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
        """,
        where,
    )
    page.until(lambda: "viewers cannot replay" in page.text, timeout=10, reload=False)
    page.open("/console/audit")
    assert len(page.find_all(".audit-row")) == 1
