"""Sign-in through an OpenID Connect provider, walked through the UI against a fake provider.

The provider is a small Starlette app served by uvicorn on a loopback port, so the
server's discovery, token and key requests are real HTTP. It checks what a real one
would: the client's secret, the redirect URI, and the PKCE verifier against the
challenge. The browser is the TestClient; its trip to the provider is an httpx request.
A good sign-in lands on the page asked for, as the provider's user, with the grants of
their groups; a wrong state, a refusal, a failed exchange and an ID token that does not
check out each end on a page that says so (4xx), with nobody signed in.
"""

from __future__ import annotations

import base64
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from modelreg.api.app import create_app
from modelreg.api.security import SESSION_COOKIE
from modelreg.service import oidc
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from modelreg.ui.signin import FLOW_COOKIE
from tests.access.conftest import ADMIN, ADMIN_USER, SELF, bearer, mint_admin_token
from tests.access.test_oidc import Keys
from tests.ui.conftest import browser, no_trace

CLIENT_ID = "modelreg-ui"
CLIENT_SECRET = "s3cret/with:odd&chars"
API_AUDIENCE = "modelreg"
CALLBACK = "http://testserver/signin/oidc/callback"


@dataclass
class FakeIdp:
    """The provider's knobs (reset for each test) and what it was sent."""

    keys: Keys
    url: str = ""
    client_secret: str | None = CLIENT_SECRET
    user: dict[str, Any] = field(default_factory=dict)
    deny: bool = False
    tamper: str | None = None  # spoils the next ID token: signature, nonce, audience, issuer, expired
    access_jwt: bool = False  # the access token: a JWT for the API's audience, or opaque
    id_lifetime_s: int = 300
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.client_secret = CLIENT_SECRET
        self.user = {"preferred_username": "dana", "groups": ["ml-team"]}
        self.deny, self.tamper, self.access_jwt, self.id_lifetime_s = False, None, False, 300
        self.codes.clear()
        self.token_requests.clear()
        self.issued.clear()

    # ---------------------------------------------------------------- endpoints

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/keys",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        })  # fmt: skip

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.keys.jwks)

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        wrong = [
            k
            for k, want in (("response_type", "code"), ("client_id", CLIENT_ID), ("redirect_uri", CALLBACK),
                            ("code_challenge_method", "S256"), ("scope", "openid profile email"))
            if q.get(k) != want
        ]  # fmt: skip
        if wrong or not q.get("state") or not q.get("nonce") or len(q.get("code_challenge", "")) != 43:
            return PlainTextResponse(
                f"bad authorization request: {wrong or 'state, nonce or challenge'}", 400
            )
        if self.deny:
            back = {"error": "access_denied", "error_description": "the user said no", "state": q["state"]}
            return RedirectResponse(f"{CALLBACK}?{urlencode(back)}", 302)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"]}
        return RedirectResponse(f"{CALLBACK}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        self.token_requests.append({**form, "authorization": request.headers.get("authorization", "")})
        if self.client_secret is not None:
            pair = f"{quote(CLIENT_ID, safe='')}:{quote(self.client_secret, safe='')}"
            if request.headers.get("authorization") != "Basic " + base64.b64encode(pair.encode()).decode():
                return JSONResponse({"error": "invalid_client"}, 401)
        elif form.get("client_id") != CLIENT_ID:
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = self.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return JSONResponse({"error": "invalid_grant", "error_description": "unknown code"}, 400)
        if form.get("redirect_uri") != CALLBACK:
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect_uri differs"}, 400)
        if oidc.challenge(form.get("code_verifier", "")) != grant["challenge"]:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400
            )
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "aud": CLIENT_ID, "sub": "sub-dana", "nonce": grant["nonce"],
                                  "iat": now, "exp": now + self.id_lifetime_s, **self.user}  # fmt: skip
        key = None
        if self.tamper == "signature":
            key = self.keys.other
        elif self.tamper == "nonce":
            claims["nonce"] = "another-sign-in"
        elif self.tamper == "audience":
            claims["aud"] = "another-client"
        elif self.tamper == "issuer":
            claims["iss"] = "https://evil.example.test"
        elif self.tamper == "expired":
            claims.update(iat=now - 900, exp=now - 600)
        id_token = self.keys.sign(key=key, **claims)
        if self.access_jwt:
            access = self.keys.sign(iss=self.url, aud=API_AUDIENCE, sub="sub-dana", **self.user)
        else:
            access = "opaque-" + secrets.token_urlsafe(24)
        self.issued.append({"id_token": id_token, "access_token": access})
        return JSONResponse({"id_token": id_token, "access_token": access, "token_type": "Bearer",
                             "expires_in": 300})  # fmt: skip

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/keys", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])  # fmt: skip


def serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    """`app` on a free loopback port by uvicorn in a thread: (port, server, thread)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    return str(sock.getsockname()[1]), server, thread


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeIdp]:
    """The fake provider, served by uvicorn in a thread on a free loopback port."""
    idp = FakeIdp(Keys())
    port, server, thread = serve(idp.app())
    idp.url = f"http://127.0.0.1:{port}"
    try:
        yield idp
    finally:
        server.should_exit = True
        thread.join(10)
        oidc.forget_discovered()


@pytest.fixture
def idp(provider: FakeIdp) -> FakeIdp:
    provider.reset()
    return provider


@dataclass
class Site:
    client: TestClient
    app: Any
    admin: dict[str, str]


def site_for(tmp_path: Path, idp: FakeIdp, **overrides: Any) -> Iterator[Site]:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "access_log": False,
        "admin_users": [ADMIN_USER],
        "oidc_issuer": idp.url,  # no JWKS url: the discovery document names it
        "oidc_audience": API_AUDIENCE,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_provider_name": "Test IdP",
        "oidc_leeway_seconds": 0,
        **overrides,
    }
    settings = Settings(**values)
    upgrade_schema(settings)
    app = create_app(settings)
    with browser(app) as client:
        yield Site(client, app, bearer(mint_admin_token(app)))


@pytest.fixture
def site(tmp_path: Path, idp: FakeIdp) -> Iterator[Site]:
    yield from site_for(tmp_path, idp)


def start(client: TestClient, target: str = "/models") -> str:
    """Press "Sign in with ...": the authorization request the browser is sent to."""
    r = client.get(f"/signin/oidc?next={quote(target, safe='')}", follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def at_provider(authorize: str) -> str:
    """The browser at the provider: where it is sent back to, as a path on our site."""
    r = httpx.get(authorize, follow_redirects=False)
    assert r.status_code == 302, r.text
    back = r.headers["location"]
    assert back.startswith(CALLBACK + "?"), back
    return back.removeprefix("http://testserver")


def walk(client: TestClient, target: str = "/models") -> httpx.Response:
    """The whole trip; the callback's answer."""
    return client.get(at_provider(start(client, target)), follow_redirects=False)


def failed(r: httpx.Response, status: int, says: str) -> None:
    assert r.status_code == status, r.text
    assert "Sign-in did not work" in r.text and says in r.text, r.text
    assert 'href="/signin?next=' in r.text  # a way to start again
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "").replace(f'{SESSION_COOKIE}=""', "")
    no_trace(r)


def test_sign_in_through_the_provider(site: Site, idp: FakeIdp) -> None:
    client = site.client
    assert client.post(f"{ADMIN}/registries", json={"name": "team"}, headers=site.admin).status_code == 201
    r = client.put(
        f"{ADMIN}/registries/team/grants/group/ml-team", json={"role": "viewer"}, headers=site.admin
    )
    assert r.status_code == 200, r.text

    # A page asked for without a session goes to the sign-in page, which offers the provider.
    r = client.get("/registries/team/models", follow_redirects=False)
    assert r.headers["location"] == "/signin?next=%2Fregistries%2Fteam%2Fmodels"
    r = client.get(r.headers["location"])
    assert "Sign in with Test IdP" in r.text and 'for="f-token"' in r.text
    assert 'href="/signin/oidc?next=%2Fregistries%2Fteam%2Fmodels"' in r.text

    # Off to the provider: state, nonce and an S256 challenge, kept in a Lax cookie.
    r = client.get("/signin/oidc?next=%2Fregistries%2Fteam%2Fmodels", follow_redirects=False)
    assert r.status_code == 303
    authorize = urlsplit(r.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{idp.url}/authorize"
    q = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert q["client_id"] == CLIENT_ID and q["redirect_uri"] == CALLBACK and q["response_type"] == "code"
    assert q["code_challenge_method"] == "S256" and q["scope"] == "openid profile email"
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32 and q["state"] != q["nonce"]
    flow_cookie = r.headers["set-cookie"].lower()
    assert flow_cookie.startswith(FLOW_COOKIE) and "httponly" in flow_cookie and "samesite=lax" in flow_cookie
    assert "path=/signin/oidc" in flow_cookie and "max-age=600" in flow_cookie

    # Back with a code: exchanged with the verifier and the client's secret, then signed in.
    r = client.get(at_provider(r.headers["location"]), follow_redirects=False)
    assert r.status_code == 200, r.text
    assert '<meta http-equiv="refresh" content="0; url=/registries/team/models">' in r.text
    sent = idp.token_requests[-1]
    assert oidc.challenge(sent["code_verifier"]) == q["code_challenge"]
    assert sent["authorization"].startswith("Basic ") and "client_secret" not in sent
    session = [c for c in r.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]
    assert len(session) == 1 and "HttpOnly" in session[0] and "samesite=strict" in session[0].lower()
    # The access token is opaque, so the session holds the ID token.
    assert client.cookies.get(SESSION_COOKIE) == idp.issued[-1]["id_token"]
    assert not client.cookies.get(FLOW_COOKIE, path="/signin/oidc")

    # The pages are dana's, with her group's grant: team as a viewer, and nothing else.
    r = client.get("/registries/team/models")
    assert r.status_code == 200 and "dana (viewer)" in r.text and "Sign out" in r.text
    assert "Register model" not in r.text
    assert client.get("/models").status_code == 404
    assert client.get("/admin/registries").status_code == 403
    # The API takes the session too, checking the token with the keys the discovery named.
    me = client.get(f"{SELF}/whoami", headers={"accept": "application/json"}).json()
    assert me["name"] == "dana" and me["groups"] == ["ml-team"] and me["authenticatedBy"] == "oidc"


def test_an_access_token_the_api_accepts_is_the_session(site: Site, idp: FakeIdp) -> None:
    idp.access_jwt = True
    assert walk(site.client).status_code == 200
    assert site.client.cookies.get(SESSION_COOKIE) == idp.issued[-1]["access_token"]
    me = site.client.get(f"{SELF}/whoami", headers={"accept": "application/json"}).json()
    assert me["name"] == "dana"


def test_a_public_client_sends_its_id_and_no_secret(tmp_path: Path, idp: FakeIdp) -> None:
    idp.client_secret = None
    for s in site_for(tmp_path, idp, oidc_client_secret=None):
        r = walk(s.client)
        assert r.status_code == 200, r.text
        sent = idp.token_requests[-1]
        assert sent["client_id"] == CLIENT_ID and not sent["authorization"]


def test_a_refused_exchange(tmp_path: Path, idp: FakeIdp) -> None:
    for s in site_for(tmp_path, idp, oidc_client_secret="not-the-secret"):
        failed(walk(s.client), 400, "refused the sign-in code (invalid_client)")


def test_a_code_taken_to_another_browser_fails_pkce(site: Site, idp: FakeIdp) -> None:
    """A stolen code, brought back in the thief's own sign-in, fails: the verifier is not theirs."""
    victims = at_provider(start(site.client))
    code = parse_qs(urlsplit(victims).query)["code"][0]
    thief = TestClient(site.app, headers={"accept": "text/html"}, raise_server_exceptions=False)
    own = parse_qs(urlsplit(at_provider(start(thief))).query)["state"][0]
    r = thief.get(f"/signin/oidc/callback?{urlencode({'code': code, 'state': own})}", follow_redirects=False)
    failed(r, 400, "PKCE verification failed")


def test_a_wrong_state(site: Site, idp: FakeIdp) -> None:
    back = at_provider(start(site.client))
    forged = re.sub(r"state=[^&]+", "state=forged", back)
    failed(site.client.get(forged, follow_redirects=False), 400, "its state differs")
    assert not idp.token_requests  # the code was never exchanged


def test_a_callback_without_its_cookie(site: Site, idp: FakeIdp) -> None:
    back = at_provider(start(site.client))
    site.client.cookies.clear()
    failed(site.client.get(back, follow_redirects=False), 400, "expired or did not start here")
    # An altered flow cookie is no better than none.
    back = at_provider(start(site.client))
    value = site.client.cookies.get(FLOW_COOKIE, path="/signin/oidc")
    assert value
    site.client.cookies.clear()
    site.client.cookies.set(FLOW_COOKIE, value[:-2] + "AA", path="/signin/oidc")
    failed(site.client.get(back, follow_redirects=False), 400, "expired or did not start here")


def test_the_provider_refuses(site: Site, idp: FakeIdp) -> None:
    idp.deny = True
    failed(walk(site.client), 403, "did not sign you in (access_denied: the user said no)")


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        ("signature", "bad signature or malformed"),
        ("nonce", "does not belong to this sign-in"),
        ("audience", "issued for another client"),
        ("issuer", "issued by another identity provider"),
        ("expired", "The ID token has expired"),
    ],
)
def test_an_id_token_that_does_not_check_out(site: Site, idp: FakeIdp, tamper: str, says: str) -> None:
    idp.tamper = tamper
    failed(walk(site.client), 400, says)
    assert site.client.get("/models", follow_redirects=False).status_code == 303  # still signed out


def test_an_expired_session_goes_back_to_sign_in(site: Site, idp: FakeIdp) -> None:
    idp.id_lifetime_s = 2
    assert walk(site.client).status_code == 200
    assert site.client.get(f"{SELF}/whoami", headers={"accept": "application/json"}).status_code == 200
    time.sleep(3)
    r = site.client.get("/models", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fmodels"
    assert f'{SESSION_COOKIE}=""' in r.headers["set-cookie"]  # the stale session is dropped


def test_only_paths_on_this_site_come_after(site: Site, idp: FakeIdp) -> None:
    for target in ("//evil.example.test/x", "https://evil.example.test/", "/\\evil.example.test"):
        r = walk(site.client, target)
        assert r.status_code == 200 and 'url=/models"' in r.text, target


def test_without_a_client_id_there_is_no_provider_button(tmp_path: Path, idp: FakeIdp) -> None:
    for s in site_for(tmp_path, idp, oidc_client_id=None):
        assert "/signin/oidc" not in s.client.get("/signin").text
        r = s.client.get("/signin/oidc?next=%2Fmodels", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fmodels"


def test_an_unreachable_provider(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    nobody = FakeIdp(Keys(), url=f"http://127.0.0.1:{dead}")
    for site in site_for(tmp_path, nobody):
        r = site.client.get("/signin/oidc", follow_redirects=False)
        assert r.status_code == 502 and "discovery document cannot be read" in r.text
        no_trace(r)


@pytest.mark.e2e
def test_in_chromium_the_session_survives_the_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a browser that applies RFC 6265bis's rule that a redirect chain begun at another site
    is cross-site (Chromium with CookieSameSiteConsidersRedirectChain), a plain redirect from
    the callback would land signed out: the SameSite=Strict session cookie stays home. The
    page that moves on by itself lands signed in. modelreg is at localhost, the provider at
    127.0.0.1: two sites."""
    from tests.ui.test_e2e import ARGS, CHROMIUM, _missing

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        _missing(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    idp = FakeIdp(Keys())
    idp.reset()
    idp_port, idp_server, idp_thread = serve(idp.app())
    idp.url = f"http://127.0.0.1:{idp_port}"
    running = [(idp_server, idp_thread)]
    sites = site_for(tmp_path, idp, admin_users=["dana"])
    try:
        site = next(sites)
        port, server, thread = serve(site.app)
        running.append((server, thread))
        base = f"http://localhost:{port}"
        monkeypatch.setattr(sys.modules[__name__], "CALLBACK", f"{base}/signin/oidc/callback")
        with sync_playwright() as pw:
            args = [*ARGS, "--enable-features=CookieSameSiteConsidersRedirectChain"]
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
            page = chromium.new_page()
            page.goto(f"{base}/archived")
            assert "/signin?next=%2Farchived" in page.url
            page.click("text=Sign in with Test IdP")
            page.wait_for_url(f"{base}/archived", timeout=10_000)
            assert "dana (admin)" in page.inner_text("header")
            chromium.close()
    finally:
        for server, thread in running:
            server.should_exit = True
            thread.join(10)
        sites.close()
        oidc.forget_discovered()
