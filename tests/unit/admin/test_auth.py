import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from admin.auth import TokenBook, check_token, require_token, token_name, unsafe_tokens

TOKENS = [SecretStr("old-token"), SecretStr("new-token")]
BOOK = TokenBook(TOKENS, [SecretStr("viewer:read-only-token")])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer new-token", "ok"),
        ("bearer old-token", "ok"),
        (None, "missing"),
        ("", "missing"),
        ("Bearer ", "missing"),
        ("Basic new-token", "missing"),
        ("Bearer new-token2", "wrong"),
        ("Bearer NEW-TOKEN", "wrong"),
        ("Bearer viewer:read-only-token", "ok"),
    ],
)
def test_check_token(header: str | None, expected: str) -> None:
    assert check_token(header, BOOK) == expected


def test_no_configured_token_admits_nobody() -> None:
    assert check_token("Bearer anything", TokenBook([], [])) == "wrong"


def test_a_token_is_named_by_its_prefix_or_a_fingerprint() -> None:
    assert token_name("alice:s3cret-long-enough") == "alice"
    anonymous = token_name("s3cret-long-enough")
    assert anonymous.startswith("token-")
    assert "s3cret" not in anonymous


def test_roles_and_revocation() -> None:
    admin = BOOK.identify("new-token")
    viewer = BOOK.identify("viewer:read-only-token")
    assert admin is not None
    assert admin.may_change
    assert viewer is not None
    assert (viewer.name, viewer.may_change) == ("viewer", False)
    assert BOOK.by_fingerprint(viewer.fingerprint) == viewer
    assert TokenBook(TOKENS, []).by_fingerprint(viewer.fingerprint) is None


@pytest.mark.parametrize(
    ("tokens", "problem"),
    [
        ([], "no ADMIN_TOKENS"),
        (["change-me"], "known placeholder"),
        (["ops:CHANGE-ME"], "known placeholder"),
        (["short"], "shorter than 16"),
    ],
)
def test_unsafe_tokens_are_named(tokens: list[str], problem: str) -> None:
    found = unsafe_tokens([SecretStr(t) for t in tokens])
    assert len(found) == 1
    assert problem in found[0]


def test_a_long_random_token_is_safe() -> None:
    assert unsafe_tokens([SecretStr("ops:9f86d081884c7d659a2feaa0c55ad015")]) == []


async def test_the_dependency_answers_401_then_403() -> None:
    app = FastAPI()

    @app.get("/admin/x", dependencies=[Depends(require_token(BOOK))])
    def x() -> dict[str, str]:
        return {"ok": "yes"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        missing = await client.get("/admin/x")
        wrong = await client.get("/admin/x", headers={"Authorization": "Bearer nope"})
        right = await client.get("/admin/x", headers={"Authorization": "Bearer old-token"})
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    assert wrong.status_code == 403
    assert right.json() == {"ok": "yes"}
