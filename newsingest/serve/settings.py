"""The ``[serve]`` section: where ``newsingest serve`` listens and who may read."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class ServeSettings(BaseModel):
    """Where the read API listens, and the optional bearer token it asks for.

    Without a token the API is open to anyone who can reach it, so it binds to
    127.0.0.1 only; set ``token`` to listen on another address.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port
    token: SecretStr | None = None  # clients send "Authorization: Bearer <token>"
    page_size: int = Field(100, ge=1, le=1000)  # default page size of list endpoints

    @model_validator(mode="after")
    def _token_beyond_loopback(self) -> ServeSettings:
        if self.token is not None and not self.token.get_secret_value().strip():
            raise ValueError("token is empty; set a long random string or remove the key")
        problem = exposure_problem(self.host, self.token, host_name="host")
        if problem:
            raise ValueError(problem)
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_problem(host: str, token: SecretStr | None, *, host_name: str) -> str | None:
    """The sentence refusing to serve on ``host`` without a token, or None if all is well.

    ``host_name`` is how the user set the host (``serve.host``, ``--host``).
    """
    if token is not None or is_loopback(host):
        return None
    return (
        f"{host_name} is {host!r} but serve.token is not set: without a token the API may "
        "listen on this machine only (127.0.0.1, ::1 or localhost), so set serve.token in "
        "the config file (clients then send 'Authorization: Bearer <token>') or listen on "
        "127.0.0.1"
    )
