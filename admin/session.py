"""The console's session: a signed cookie naming the signed-in token by its fingerprint,
with the session's CSRF token.

The cookie is HttpOnly (no script reads it) and SameSite=Strict (no other site's page
sends it), Secure when ADMIN_SECURE_COOKIES is set or the request came over https. The
token itself is never in it: a session ends when its token is removed from the
configuration, when it expires, or when the admin process's signing key changes.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "console_session"
#: Before sign-in there is no session: the sign-in form's CSRF token is a cookie of its own.
SIGN_IN_COOKIE = "console_sign_in"
COOKIE_PATH = "/console"
SIGN_IN_FORM_SECONDS = 3600


@dataclass(frozen=True)
class Session:
    fingerprint: str
    csrf: str


class SessionSigner:
    def __init__(self, secret: str, max_age_seconds: int, secure: bool) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt="console-session")
        self._forms = URLSafeTimedSerializer(secret, salt="console-sign-in")
        self._max_age = max_age_seconds
        self._secure = secure

    def open(self, fingerprint: str, response: Response, request: Request) -> None:
        value = self._sessions.dumps({"fp": fingerprint, "csrf": secrets.token_urlsafe(32)})
        self._set(response, request, SESSION_COOKIE, value, self._max_age)

    def read(self, request: Request) -> Session | None:
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            data = self._sessions.loads(value, max_age=self._max_age)
        except BadSignature:
            return None
        return Session(str(data["fp"]), str(data["csrf"]))

    def close(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)

    def remember_sign_in_form(self, token: str, response: Response, request: Request) -> None:
        """Set the sign-in form's CSRF token as a cookie, to compare the post with."""
        signed = self._forms.dumps(token)
        self._set(response, request, SIGN_IN_COOKIE, signed, SIGN_IN_FORM_SECONDS)

    def sign_in_form_valid(self, request: Request, submitted: str) -> bool:
        try:
            expected = self._forms.loads(
                request.cookies.get(SIGN_IN_COOKIE, ""), max_age=SIGN_IN_FORM_SECONDS
            )
        except BadSignature:
            return False
        return hmac.compare_digest(str(expected).encode(), submitted.encode())

    def _set(self, response: Response, request: Request, name: str, value: str, age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=self._secure or request.url.scheme == "https",
        )


def csrf_valid(session: Session, submitted: str) -> bool:
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())
