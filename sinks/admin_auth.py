"""Bearer-token auth for /admin: 401 without a token, 403 with a wrong one."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Annotated, Literal

from fastapi import Header, HTTPException
from pydantic import SecretStr

TokenCheck = Literal["ok", "missing", "wrong"]


def check_token(authorization: str | None, tokens: Sequence[SecretStr]) -> TokenCheck:
    """Compares against every configured token in constant time, without stopping at a
    match, so the time taken tells nothing about which token or how much of it matched."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return "missing"
    candidate = presented.strip().encode()
    matches = [hmac.compare_digest(candidate, t.get_secret_value().encode()) for t in tokens]
    return "ok" if any(matches) else "wrong"


def require_admin(tokens: Sequence[SecretStr]) -> Callable[[str | None], None]:
    """A FastAPI dependency enforcing `check_token`."""

    def dependency(authorization: Annotated[str | None, Header()] = None) -> None:
        match check_token(authorization, tokens):
            case "missing":
                raise HTTPException(401, "admin_token_missing", {"WWW-Authenticate": "Bearer"})
            case "wrong":
                raise HTTPException(403, "admin_token_invalid")

    return dependency
