"""Signing in through an OpenID Connect provider: the authorization code flow with PKCE.

`discover` reads the provider's endpoints from `<issuer>/.well-known/openid-configuration`
(once per process); `begin` makes the secrets of one sign-in and the address to send the
browser to; `exchange` trades the code the browser brings back for tokens; `verify_id_token`
checks the ID token (signature by the provider's keys, issuer, audience = our client id,
nonce, expiry). Which token then signs the browser in is the UI's choice (modelreg.ui.signin).

A provider that cannot be reached or answers nonsense raises Unavailable; one that refuses
the code, or a token that does not check out, raises Unauthenticated.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from modelreg.service.errors import Unauthenticated, Unavailable

log = logging.getLogger("modelreg.auth")
TIMEOUT_S = 10.0
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class Provider:
    """What the discovery document says about the provider."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]


@dataclass(frozen=True)
class Flow:
    """The secrets of one sign-in, kept by the browser (signed) between leaving and coming back."""

    state: str
    nonce: str
    verifier: str  # PKCE: the token request proves it started this flow


@dataclass(frozen=True)
class Tokens:
    id_token: str
    access_token: str | None


_discovered: dict[str, Provider] = {}
_jwks: dict[str, Any] = {}
_lock = threading.Lock()


def discover(issuer: str) -> Provider:
    """The provider's endpoints, fetched on first use and kept for the process."""
    key = issuer.rstrip("/")
    found = _discovered.get(key)
    if found is not None:
        return found
    import httpx

    url = f"{key}/.well-known/openid-configuration"
    try:
        r = httpx.get(url, timeout=TIMEOUT_S, headers={"accept": "application/json"})
        r.raise_for_status()
        doc = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("cannot read the identity provider's discovery document %s: %s", url, exc)
        raise Unavailable(f"the identity provider's discovery document cannot be read from {url}") from None
    if not isinstance(doc, dict):
        raise Unavailable(f"the discovery document at {url} is not a JSON object")
    missing = [
        k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)
    ]
    if missing:
        raise Unavailable(f"the discovery document at {url} lacks {', '.join(missing)}")
    if str(doc["issuer"]).rstrip("/") != key:
        raise Unavailable(f"the discovery document at {url} names issuer {doc['issuer']!r}, not {issuer!r}")
    provider = Provider(
        issuer=str(doc["issuer"]),
        authorization_endpoint=str(doc["authorization_endpoint"]),
        token_endpoint=str(doc["token_endpoint"]),
        jwks_uri=str(doc["jwks_uri"]),
        token_auth_methods=tuple(
            doc.get("token_endpoint_auth_methods_supported") or ("client_secret_basic",)
        ),
    )
    with _lock:
        _discovered[key] = provider
    return provider


def forget_discovered() -> None:
    """Drop what discovery and the key sets cached (tests start providers on new ports)."""
    with _lock:
        _discovered.clear()
        _jwks.clear()


def challenge(verifier: str) -> str:
    """PKCE S256: base64url(sha256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin(provider: Provider, *, client_id: str, redirect_uri: str, scopes: str) -> tuple[Flow, str]:
    """A new sign-in: its secrets, and the authorization request to send the browser to."""
    flow = Flow(
        state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24), verifier=secrets.token_urlsafe(48)
    )
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": challenge(flow.verifier),
        "code_challenge_method": "S256",
    }
    sep = "&" if "?" in provider.authorization_endpoint else "?"
    return flow, provider.authorization_endpoint + sep + urlencode(query)


def exchange(
    provider: Provider,
    *,
    code: str,
    verifier: str,
    client_id: str,
    client_secret: str | None,
    redirect_uri: str,
) -> Tokens:
    """The token request: the code and the PKCE verifier, with the client's secret if it has one
    (HTTP Basic unless the provider only takes it in the body)."""
    import httpx

    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "client_id": client_id,
    }
    headers = {"accept": "application/json"}
    if client_secret is not None:
        methods = provider.token_auth_methods
        if "client_secret_basic" in methods or "client_secret_post" not in methods:
            pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            data["client_secret"] = client_secret
    try:
        r = httpx.post(provider.token_endpoint, data=data, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.warning(
            "cannot reach the identity provider's token endpoint %s: %s", provider.token_endpoint, exc
        )
        raise Unavailable("the identity provider's token endpoint cannot be reached") from None
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Unavailable(f"the identity provider's token endpoint answered {r.status_code} without JSON")
    if r.status_code >= 500:
        raise Unavailable(f"the identity provider's token endpoint answered {r.status_code}")
    if r.status_code != 200 or "error" in body:
        said = str(body.get("error") or r.status_code)
        if body.get("error_description"):
            said += f": {body['error_description']}"
        raise Unauthenticated(f"the identity provider refused the sign-in code ({said})")
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise Unauthenticated(
            "the identity provider's answer carries no ID token (is 'openid' in the scopes?)"
        )
    access = body.get("access_token")
    return Tokens(id_token=id_token, access_token=access if isinstance(access, str) and access else None)


def jwks_client(url: str) -> Any:
    """A PyJWKClient for the key set at `url`, one per process."""
    import jwt

    with _lock:
        client = _jwks.get(url)
        if client is None:
            client = _jwks[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300)
    return client


def decode(
    token: str,
    jwks: Any,
    *,
    issuer: str,
    audience: str | Sequence[str],
    leeway_s: int,
    require: list[str],
    noun: str = "the token",
    audience_noun: str = "audience",
) -> dict[str, Any]:
    """A JWT's claims, once it is signed by a key of `jwks` (a PyJWKClient), from `issuer`, for
    `audience` and not expired; each refusal says which check failed (about `noun`)."""
    import jwt

    try:
        key = jwks.get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": require},
        )
    except jwt.PyJWKClientConnectionError:
        raise Unavailable("the identity provider's keys cannot be fetched; try again later") from None
    except jwt.ExpiredSignatureError:
        raise Unauthenticated(f"{noun} has expired") from None
    except jwt.InvalidAudienceError:
        raise Unauthenticated(f"{noun} was issued for another {audience_noun}") from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated(f"{noun} was issued by another identity provider") from None
    except (jwt.PyJWTError, ValueError):
        raise Unauthenticated(f"{noun} is not valid: bad signature or malformed") from None
    return claims


def verify_id_token(
    token: str, *, jwks_url: str, issuer: str, client_id: str, nonce: str, leeway_s: int
) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, nonce and expiry check out."""
    claims = decode(
        token,
        jwks_client(jwks_url),
        issuer=issuer,
        audience=client_id,
        leeway_s=leeway_s,
        require=["exp", "iat", "iss", "aud", "sub"],
        noun="the ID token",
        audience_noun="client",
    )
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise Unauthenticated("the ID token was issued for another client")
    if not secrets.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
        raise Unauthenticated("the ID token does not belong to this sign-in (its nonce differs)")
    return claims
