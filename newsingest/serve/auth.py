"""Bearer-token checks: ``Authorization: Bearer <serve.token>`` for the API and the page.

Browsers cannot add a bearer header to a page they open, and a token in the URL
would end up in access logs, browser history and Referer headers. So the HTML
status page also takes HTTP Basic credentials whose password is the token (the user
name is ignored): a browser asks for them itself, with no JavaScript, and keeps them
out of the URL.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

REALM = "newsingest"

# Declares the scheme in the OpenAPI schema; the check itself is ``api_guard``'s.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="serve.token from the config file: Authorization: Bearer <token>",
)


def token_matches(given: str, token: SecretStr) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    return secrets.compare_digest(given.encode(), token.get_secret_value().encode())


def api_guard(token: SecretStr) -> Callable[[HTTPAuthorizationCredentials | None], None]:
    """A dependency that lets a request through only with ``Authorization: Bearer <token>``."""

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> None:
        if credentials is None:
            raise HTTPException(
                status_code=401,
                detail="This API needs a token: send the header 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
            )
        if not token_matches(credentials.credentials, token):
            raise HTTPException(
                status_code=401,
                detail="The bearer token is wrong; send serve.token from the config file.",
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
            )

    return require_token


def page_guard(token: SecretStr) -> Callable[[Request], None]:
    """A dependency for the HTML page: a bearer token, or Basic auth with the token as password."""

    def require_token(request: Request) -> None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        given = value.strip()
        if scheme.lower() == "basic":
            given = _basic_password(given)
        elif scheme.lower() != "bearer":
            given = ""
        if not given or not token_matches(given, token):
            raise HTTPException(
                status_code=401,
                detail=(
                    "This page needs the token: log in with any user name and serve.token "
                    "as the password."
                ),
                headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
            )

    return require_token


def _basic_password(value: str) -> str:
    """The password of HTTP Basic credentials, or "" when they cannot be decoded."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]
