"""Signing in: with an API token, or through the configured OpenID Connect provider.

Either way the browser ends up holding a bearer token in the session cookie, which
`authorize` treats as an Authorization header. Through the provider (authorization code
flow with PKCE) that token is the access token when the API's own OIDC check accepts it
(a JWT from the issuer for MODELREG_OIDC_AUDIENCE), else the ID token, which the API accepts
too because its audience is our client id. Its expiry ends the session: the next page
sends the browser back to the sign-in page.

Behind a trusted proxy (MODELREG_PROXY_USER_HEADER) the proxy signs people in: the
sign-in page passes them on, and there is no signing out here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlparse

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from modelreg.api.security import SESSION_COOKIE
from modelreg.service import oidc
from modelreg.service.errors import Unauthenticated, Unavailable
from modelreg.settings import Settings
from modelreg.ui.web import form, page, redirect, render, sentence, ui

log = logging.getLogger("modelreg.ui")
START = "/signin/oidc"
CALLBACK = "/signin/oidc/callback"
# Carries one sign-in's state, nonce and PKCE verifier while the browser is at the provider.
# SameSite=Lax, not Strict: it must come back on the provider's redirect to CALLBACK.
FLOW_COOKIE = "modelreg_signin"
FLOW_TTL_S = 600


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/models"
    return target


def provider_name(settings: Settings) -> str | None:
    """The label of the "Sign in with ..." button, or None when sign-in through a provider is off."""
    if not (settings.oidc_issuer and settings.oidc_client_id):
        return None
    return settings.oidc_provider_name or urlparse(settings.oidc_issuer).hostname or settings.oidc_issuer


def _set_session(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")


# ---------------------------------------------------------------- with a token


async def signin_form(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if request.state.principal.method == "proxy":
        return redirect(target)  # the proxy has signed them in already
    p = await page(request)
    name = provider_name(request.app.state.settings)
    return render(p, "signin.html", next=target, provider=name, errors={}, values={})


async def signin(request: Request) -> Response:
    p = await page(request)
    f = await form(request)
    token = f.get("token", "").strip()
    target = safe_next(f.get("next"))
    errors: dict[str, str] = {}
    auth = request.app.state.authenticator
    if auth.single_user:
        return redirect(target)
    if not token:
        errors["token"] = "Paste the API token an administrator gave you."
    else:
        try:
            who = await run_in_threadpool(auth.authenticate, {"authorization": f"Bearer {token}"})
            if who.anonymous:
                errors["token"] = "That token does not sign anyone in."
        except Unauthenticated as exc:
            errors["token"] = sentence(exc.message)
    if errors:
        name = provider_name(request.app.state.settings)
        return render(p, "signin.html", next=target, provider=name, errors=errors, values={})
    response = redirect(target)
    _set_session(request, response, token)
    return response


async def signout(request: Request) -> Response:
    response = redirect("/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- through the provider


def _flow_key(request: Request) -> bytes:
    state = request.app.state
    key: bytes | None = getattr(state, "signin_key", None)
    if key is None:
        settings: Settings = state.settings
        secret = settings.signin_secret or settings.oidc_client_secret
        material = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
        key = state.signin_key = hashlib.sha256(b"modelreg-signin:" + material).digest()
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def seal(key: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return body + "." + _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def unseal(key: bytes, value: str) -> dict[str, Any] | None:
    """The payload of a sealed value, or None if it was altered, is not ours, or has expired."""
    body, _, mac = value.partition(".")
    if not hmac.compare_digest(mac, _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("exp"), int)
        or payload["exp"] < time.time()
    ):
        return None
    return payload


def _redirect_uri(request: Request, settings: Settings) -> str:
    return settings.oidc_redirect_uri or str(request.base_url).rstrip("/") + CALLBACK


def _failed(request: Request, status: int, message: str, target: str = "/models") -> Response:
    """A sign-in that did not work: what went wrong, and a way to start again."""
    again = "/signin?" + urlencode({"next": target})
    response = render(None, "signin_failed.html", status=status, message=sentence(message), again=again)
    response.delete_cookie(FLOW_COOKIE, path=START)
    return response


async def oidc_start(request: Request) -> Response:
    """Off to the provider, with a fresh state, nonce and PKCE challenge."""
    settings: Settings = request.app.state.settings
    target = safe_next(request.query_params.get("next"))
    if provider_name(settings) is None:
        return redirect("/signin?" + urlencode({"next": target}))
    assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
    try:
        provider = await run_in_threadpool(oidc.discover, settings.oidc_issuer)
    except Unavailable as exc:
        return _failed(request, 502, exc.message, target)
    flow, url = oidc.begin(
        provider,
        client_id=settings.oidc_client_id,
        redirect_uri=_redirect_uri(request, settings),
        scopes=settings.oidc_scopes,
    )
    sealed = seal(_flow_key(request), {"state": flow.state, "nonce": flow.nonce, "verifier": flow.verifier,
                                       "next": target, "exp": int(time.time()) + FLOW_TTL_S})  # fmt: skip
    response = RedirectResponse(url, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(FLOW_COOKIE, sealed, max_age=FLOW_TTL_S, path=START, httponly=True, samesite="lax",
                        secure=secure)  # fmt: skip
    return response


async def oidc_callback(request: Request) -> Response:
    """Back from the provider: check the state, trade the code, check the ID token, sign in."""
    settings: Settings = request.app.state.settings
    if provider_name(settings) is None:
        return redirect("/signin")
    assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
    q = request.query_params
    flow = unseal(_flow_key(request), request.cookies.get(FLOW_COOKIE, ""))
    if flow is None:
        return _failed(request, 400, "this sign-in has expired or did not start here; please start again")
    target = safe_next(flow.get("next"))
    if not hmac.compare_digest(q.get("state", "").encode(), str(flow["state"]).encode()):
        return _failed(request, 400, "the answer from the identity provider does not match this sign-in "
                                     "(its state differs); please start again", target)  # fmt: skip
    if q.get("error"):
        said = q["error"] + (f": {q['error_description']}" if q.get("error_description") else "")
        return _failed(request, 403 if q["error"] == "access_denied" else 400,
                       f"the identity provider did not sign you in ({said})", target)  # fmt: skip
    if not q.get("code"):
        return _failed(request, 400, "the identity provider sent no sign-in code", target)
    secret = settings.oidc_client_secret
    auth = request.app.state.authenticator

    def finish() -> str:
        assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
        provider = oidc.discover(settings.oidc_issuer)
        tokens = oidc.exchange(
            provider,
            code=q["code"],
            verifier=str(flow["verifier"]),
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            redirect_uri=_redirect_uri(request, settings),
        )
        oidc.verify_id_token(
            tokens.id_token,
            jwks_url=settings.oidc_jwks_url or provider.jwks_uri,
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            nonce=str(flow["nonce"]),
            leeway_s=settings.oidc_leeway_seconds,
        )
        if tokens.access_token:
            try:
                auth.authenticate({"authorization": f"Bearer {tokens.access_token}"})
                return tokens.access_token
            except Unauthenticated:
                pass  # opaque, or for another audience: the ID token it is
        auth.authenticate({"authorization": f"Bearer {tokens.id_token}"})
        return tokens.id_token

    try:
        token = await run_in_threadpool(finish)
    except Unauthenticated as exc:
        return _failed(request, 400, exc.message, target)
    except Unavailable as exc:
        return _failed(request, 502, exc.message, target)
    # A page that moves on by itself rather than a redirect: where a browser applies RFC
    # 6265bis's rule that a redirect chain begun at another site (the provider) is cross-site,
    # the SameSite=Strict session cookie would not come along and the page would look signed
    # out (test_in_chromium_the_session_survives_the_trip). A navigation this page starts is
    # same-site.
    response = render(None, "signed_in.html", target=target)
    response.delete_cookie(FLOW_COOKIE, path=START)
    _set_session(request, response, token)
    return response


def add_routes(router: APIRouter) -> None:
    def add(path: str, handler: Any, method: str) -> None:
        router.add_api_route(
            path, handler, methods=[method], openapi_extra=ui("public"), include_in_schema=False
        )

    add("/signin", signin_form, "GET")
    add("/signin", signin, "POST")
    add("/signout", signout, "POST")
    add(START, oidc_start, "GET")
    add(CALLBACK, oidc_callback, "GET")
