"""Who may use the admin process, and what they may do.

Two kinds of token: ADMIN_TOKENS may read, replay and purge; ADMIN_VIEWER_TOKENS may only
read. The JSON API takes either as `Authorization: Bearer <token>` (401 without one, 403
with a wrong one); the console exchanges one for a session cookie (`admin.session`).

A token `name:secret` is presented whole; its name is who the audit log records. A token
without a colon is named by a fingerprint, so the log never holds a secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Header, HTTPException
from pydantic import SecretStr

TokenCheck = Literal["ok", "missing", "wrong"]
Role = Literal["admin", "viewer"]

#: Placeholders seen in examples and compose files: a token equal to one is no secret.
KNOWN_DEFAULTS = frozenset(
    {"change-me", "changeme", "admin", "secret", "password", "token", "test", "example"}
)
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Principal:
    """A signed-in token holder: its name, its role, and the token's fingerprint."""

    name: str
    role: Role
    fingerprint: str

    @property
    def may_change(self) -> bool:
        return self.role == "admin"


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_name(token: str) -> str:
    name, colon, _ = token.partition(":")
    return name if colon and name else f"token-{fingerprint(token)[:8]}"


class TokenBook:
    """The configured tokens, looked up in constant time."""

    def __init__(self, admins: Sequence[SecretStr], viewers: Sequence[SecretStr]) -> None:
        roles: tuple[tuple[Role, Sequence[SecretStr]], ...] = (
            ("admin", admins),
            ("viewer", viewers),
        )
        self._tokens: list[tuple[bytes, Principal]] = [
            (secret.encode(), Principal(token_name(secret), role, fingerprint(secret)))
            for role, tokens in roles
            for secret in (token.get_secret_value() for token in tokens)
        ]

    def identify(self, presented: str) -> Principal | None:
        """Compares against every token without stopping at a match, so the time taken
        tells nothing about which token or how much of it matched."""
        candidate = presented.encode()
        found = None
        for token, principal in self._tokens:
            if hmac.compare_digest(candidate, token):
                found = found or principal
        return found

    def by_fingerprint(self, wanted: str) -> Principal | None:
        """The principal whose token is still configured; None once it was removed."""
        found = None
        for _, principal in self._tokens:
            if hmac.compare_digest(wanted.encode(), principal.fingerprint.encode()):
                found = found or principal
        return found


def unsafe_tokens(tokens: Sequence[SecretStr]) -> list[str]:
    """Why these tokens must not guard the admin process (empty: they may)."""
    if not tokens:
        return ["no ADMIN_TOKENS configured"]
    problems = []
    for token in tokens:
        secret = token.get_secret_value()
        name = token_name(secret)
        if secret.rpartition(":")[2].lower() in KNOWN_DEFAULTS:
            problems.append(f"token {name} is a known placeholder")
        elif len(secret) < MIN_TOKEN_LENGTH:
            problems.append(f"token {name} is shorter than {MIN_TOKEN_LENGTH} characters")
    return problems


def check_token(authorization: str | None, book: TokenBook) -> TokenCheck:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return "missing"
    return "ok" if book.identify(presented.strip()) else "wrong"


def require_token(book: TokenBook) -> Callable[[str | None], None]:
    """A FastAPI dependency enforcing `check_token` (admins and viewers alike: the JSON API
    only reads)."""

    def dependency(authorization: Annotated[str | None, Header()] = None) -> None:
        match check_token(authorization, book):
            case "missing":
                raise HTTPException(401, "admin_token_missing", {"WWW-Authenticate": "Bearer"})
            case "wrong":
                raise HTTPException(403, "admin_token_invalid")

    return dependency
