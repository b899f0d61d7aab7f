"""What both clients do the same way around httpx: the base URL, headers, and turning
answers and transport failures into results or typed errors."""

from __future__ import annotations

import json
import os
import re
import ssl
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from modelreg import __version__
from modelreg.client._errors import InvalidRequest, ServerError, Unavailable, error_from_response

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = 30.0
_API_SUFFIXES = ("/api/model_registry/v1alpha3", "/api/model_registry/v1", "/api/modelreg/v1")
_REGISTRY_PATH = re.compile(r"^(?P<root>.*)/registries/(?P<name>[^/]+)$")


def normalize_base(url: str | None) -> str:
    """The registry's root URL: a scheme added if missing (http), API paths and slashes trimmed.

    None means MODELREG_URL, else the address `modelreg serve` listens on by default.
    """
    url = (url or os.environ.get("MODELREG_URL") or DEFAULT_URL).strip()
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(f"{url!r} is not an http(s) URL of a registry")
    path = parts.path.rstrip("/")
    for suffix in _API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def split_registry(base: str, registry: str | None) -> tuple[str, str | None]:
    """The server's root URL and the registry to use: `registry`, else the one the URL
    names (`.../registries/<name>`), else None (the server's default registry)."""
    parts = urlsplit(base)
    found = _REGISTRY_PATH.match(parts.path)
    named = unquote(found["name"]) if found else None
    root = urlunsplit((parts.scheme, parts.netloc, found["root"], "", "")) if found else base
    if registry is not None:
        if not registry or "/" in registry:
            raise InvalidRequest(f"{registry!r} is not a registry name")
        if named is not None and named != registry:
            raise InvalidRequest(f"the URL names registry {named!r} but registry={registry!r} was given")
        return root, registry
    return root, named


def registry_base(root: str, registry: str | None) -> str:
    """Where a registry's API is: under `/registries/<name>`, or the root for the default."""
    return f"{root}/registries/{quote(registry, safe='')}" if registry is not None else root


def ssl_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """`verify` as httpx takes it: True, False, a context, or a CA bundle's path made into one."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def default_headers(headers: dict[str, str] | None) -> dict[str, str]:
    return {"User-Agent": f"modelreg-client/{__version__}", "Accept": "application/json", **(headers or {})}


def auth_headers(token: str | None) -> dict[str, str]:
    token = token if token is not None else os.environ.get("MODELREG_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def transport_error(exc: Exception, base: str) -> Exception:
    """A failure before any answer came, as Unavailable (or InvalidRequest for a bad URL)."""
    if isinstance(exc, httpx.TimeoutException):
        return Unavailable(f"the registry at {base} did not answer in time ({type(exc).__name__})", url=base)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return InvalidRequest(f"cannot use {base}: {exc}", url=base)
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Unavailable(f"cannot connect to the registry at {base}: {reason}", url=base)


def decode(status: int, content: bytes, url: str, with_status: bool = False) -> Any:
    """The JSON body of a 2xx answer (None when empty); raises the typed error otherwise."""
    if status >= 400:
        raise error_from_response(status, content, url)
    if not content:
        body = None
    else:
        try:
            body = json.loads(content)
        except ValueError:
            raise ServerError(
                f"{url} answered {status} with something that is not JSON; is this a modelreg registry?",
                status=status,
                url=url,
            ) from None
    return (status, body) if with_status else body
