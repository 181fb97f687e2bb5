import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import SecretStr

from sinks.admin_auth import check_token, require_admin

TOKENS = [SecretStr("old-token"), SecretStr("new-token")]


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
    ],
)
def test_check_token(header: str | None, expected: str) -> None:
    assert check_token(header, TOKENS) == expected


def test_no_configured_token_admits_nobody() -> None:
    assert check_token("Bearer anything", []) == "wrong"


async def test_the_dependency_answers_401_then_403() -> None:
    app = FastAPI()

    @app.get("/admin/x", dependencies=[Depends(require_admin(TOKENS))])
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
