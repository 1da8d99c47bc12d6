"""The ``[serve]`` section: where ``newsingest serve`` listens and who may read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
