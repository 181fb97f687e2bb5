"""The console's access model and input handling over HTTP, on a migrated PostgreSQL
database; the dlq the pages show is a fixed list (the browser test reads a real one)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.support.admin import (
    ADMIN,
    ATTRIBUTE_MARKUP,
    MARKUP,
    VIEWER,
    Browser,
    console_app,
)

PAGES = (
    "/console/",
    "/console/events",
    "/console/dlq",
    "/console/dlq/0/0",
    "/console/dlq/replay?m=0:0",
    "/console/dlq/purge",
    "/console/audit",
    "/console/payments/stripe/pi_1",
)


async def test_no_session_means_the_sign_in_page_and_no_data(browser: Browser) -> None:
    for path in PAGES:
        response = await browser.http.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/console/sign-in")
        assert response.text == ""
    forged = {"Cookie": "console_session=eyJmcCI6ImZvcmdlZCJ9.forged.signature"}
    response = await browser.http.get("/console/", headers=forged)
    assert response.status_code == 303


async def test_sign_in_sets_a_strict_http_only_session_cookie(browser: Browser) -> None:
    response = await browser.sign_in(ADMIN)
    assert (response.status_code, response.headers["location"]) == (303, "/console/")
    cookie = response.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "path=/console"):
        assert attribute in cookie
    assert "secure" not in cookie
    assert ADMIN.split(":")[1] not in cookie
    assert (await browser.http.get("/console/")).status_code == 200


async def test_behind_https_the_cookie_is_secure(database: str) -> None:
    async with Browser(console_app(database, admin_secure_cookies=True)) as browser:
        response = await browser.sign_in(ADMIN)
        assert "; secure" in response.headers["set-cookie"].lower()


async def test_a_wrong_token_or_a_forged_sign_in_form_is_refused(browser: Browser) -> None:
    wrong = await browser.sign_in("ops:not-the-token-at-all-0000000")
    assert wrong.status_code == 401
    assert "not valid" in wrong.text
    await browser.http.get("/console/sign-in")
    forged = await browser.http.post("/console/sign-in", data={"token": ADMIN, "csrf": "guess"})
    assert forged.status_code == 401
    assert "expired" in forged.text
    assert "console_session" not in forged.headers.get("set-cookie", "")


async def test_a_session_ends_when_its_token_is_removed(database: str) -> None:
    async with Browser(console_app(database)) as before:
        await before.sign_in(VIEWER)
        assert (await before.http.get("/console/")).status_code == 200
        cookies = before.http.cookies
    async with Browser(console_app(database, admin_viewer_tokens="")) as after:
        after.http.cookies = cookies
        response = await after.http.get("/console/")
        assert response.status_code == 303


@pytest.mark.parametrize(
    ("path", "data"),
    [("/console/dlq/replay", {"m": "0:0"}), ("/console/dlq/purge", {"before": "2030-01-01T00:00"})],
)
async def test_changes_need_the_csrf_token_and_an_admin_token(
    browser: Browser, path: str, data: dict[str, str]
) -> None:
    await browser.sign_in(VIEWER)
    missing = await browser.http.post(path, data=data)
    assert missing.status_code == 422
    wrong = await browser.http.post(path, data=data | {"csrf": "not-the-session-token"})
    assert wrong.status_code == 403
    assert "stale" in wrong.text
    viewer = await browser.http.post(path, data=data | {"csrf": await browser.csrf()})
    assert viewer.status_code == 403
    assert "viewers cannot replay or purge" in viewer.text
    audit = await browser.http.get("/console/audit")
    assert "No replay or purge yet" in audit.text


async def test_a_viewer_reads_everything_but_is_offered_no_change(browser: Browser) -> None:
    await browser.sign_in(VIEWER)
    for path in PAGES:
        if path != "/console/dlq/0/0":  # reads the broker: the browser test covers it
            assert (await browser.http.get(path)).status_code in (200, 404), path
    preview = await browser.http.get("/console/dlq/replay?m=0:0")
    assert "confirm-replay" not in preview.text
    assert "Read-only token" in preview.text


async def test_payload_markup_is_escaped(browser: Browser) -> None:
    await browser.sign_in(ADMIN)
    for path in ("/console/dlq", "/console/dlq/replay?m=0:0"):
        page = (await browser.http.get(path)).text
        assert MARKUP not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    payment = await browser.http.get(f"/console/payments/stripe/pi_{quote(ATTRIBUTE_MARKUP)}")
    assert payment.status_code == 200
    assert MARKUP not in payment.text
    assert ATTRIBUTE_MARKUP not in payment.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in payment.text
    assert "dead_lettered" in payment.text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/console/events?since=yesterday", 400, "since: not a date"),
        ("/console/events?provider=visa", 400, "provider: stripe or paypal"),
        ("/console/events?status=paid", 400, "status: not a payment status"),
        ("/console/events?cursor=-1", 400, "cursor: a whole number"),
        ("/console/events?q=" + "x" * 300, 400, "search: at most 255"),
        ("/console/dlq?page=0", 400, "page: a whole number"),
        ("/console/dlq/replay?m=zero", 400, "partition:offset"),
        ("/console/dlq/purge?before=soon", 400, "before: not a date"),
        ("/console/dlq/a/b", 422, "path.partition"),
        ("/console/payments/visa/x", 400, "provider: stripe or paypal"),
        ("/console/payments/stripe/pi_unknown", 404, "nothing is known"),
        ("/console/audit?before=x", 400, "before: a whole number"),
        ("/console/nowhere", 404, "Not Found"),
    ],
)
async def test_bad_input_gets_a_page_that_says_why(
    browser: Browser, path: str, status: int, message: str
) -> None:
    await browser.sign_in(ADMIN)
    response = await browser.http.get(path)
    assert response.status_code == status
    assert message in response.text
    assert "Traceback" not in response.text


async def test_a_database_that_does_not_answer_is_a_503() -> None:
    unreachable = console_app("postgresql://nobody@127.0.0.1:9/none")
    async with Browser(unreachable) as other:
        await other.sign_in(ADMIN)
        page = await other.http.get("/console/audit")
        assert page.status_code == 503
        assert "did not answer" in page.text
        api = await other.http.get("/admin/events", headers={"Authorization": f"Bearer {ADMIN}"})
        assert (api.status_code, api.json()["error"]["code"]) == (503, "unavailable")
