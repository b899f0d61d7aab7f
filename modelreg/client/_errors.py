"""What the client raises, rebuilt from the server's `{"code", "message"}` bodies.

ModelregError                 anything the registry (or the way to it) refused
├── NotFound                  404: no such model, version or artifact
├── Conflict                  409: a name is taken, a version's files differ, it is deployed
├── PermissionDenied          401/403: no token, or a token the server (or its proxy) refuses
├── InvalidRequest            400/413/422, or a call the client refuses before sending it
├── Unavailable               503, 502/504, a timeout, or no connection at all
├── ServerError               500 and anything else the server should not have answered
└── ChecksumMismatch          a downloaded file is not the bytes its manifest declares

Each carries the HTTP `status` (None when no answer came), the server's `code` and
`message`, and the `url` asked for.
"""

from __future__ import annotations

import json
from http import HTTPStatus

__all__ = [
    "ChecksumMismatch",
    "Conflict",
    "InvalidRequest",
    "ModelregError",
    "NotFound",
    "PermissionDenied",
    "ServerError",
    "Unavailable",
    "error_from_response",
]


class ModelregError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.url = url

    def __str__(self) -> str:
        return self.message


class NotFound(ModelregError):
    pass


class Conflict(ModelregError):
    pass


class PermissionDenied(ModelregError):
    pass


class InvalidRequest(ModelregError):
    pass


class Unavailable(ModelregError):
    pass


class ServerError(ModelregError):
    pass


class ChecksumMismatch(ModelregError):
    pass


def _error_class(status: int) -> type[ModelregError]:
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status in (401, 403):
        return PermissionDenied
    if status in (502, 503, 504):
        return Unavailable
    if 400 <= status < 500:
        return InvalidRequest
    return ServerError


def error_from_response(status: int, body: bytes, url: str) -> ModelregError:
    """The typed error for a non-2xx answer; the body is `{code, message}` when it is ours."""
    code: str | None = None
    message = ""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        message = data["message"]
        code = data.get("code") if isinstance(data.get("code"), str) else None
    else:
        # Not ours (a proxy's HTML page, say): its first line, if short, else the reason.
        text = body.decode("utf-8", "replace").strip()
        first = text.splitlines()[0] if text else ""
        message = first if first and len(first) <= 200 and "<" not in first else ""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = f"HTTP {status}"
    code = code or phrase
    cls = _error_class(status)
    if not message:
        message = phrase
    if cls is PermissionDenied:
        message = f"{message} ({status} from {url}; check the token)"
    elif cls is Unavailable:
        message = f"{message} ({status} from {url})"
    return cls(" ".join(message.splitlines()), status=status, code=code, url=url)
