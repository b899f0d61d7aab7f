"""OIDC bearer tokens: RS256 JWTs checked against a JWKS served on a loopback port.

A valid token names the user and groups from its claims (and a grant to a group works);
the wrong issuer, audience or signature, an expired token (beyond the leeway), a token
with no username, and an unreachable JWKS all give 401 with a message that says which;
a token expired by less than the leeway is accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.access.conftest import ADMIN, SELF, V1, AuthEnv, EnvFactory, bearer, ok, refused

ISSUER = "https://idp.example.test/realms/ml"
AUDIENCE = "modelreg"
KID = "test-key-1"
LEEWAY = 30


class Keys:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def sign(self, key: Any = None, kid: str = KID, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, "sub": "subject-id", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def jwks_url(keys: Keys) -> Iterator[str]:
    """The JWKS, served by http.server on a free loopback port."""
    payload = json.dumps(keys.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def oidc_env(make_env: EnvFactory, jwks_url: str) -> AuthEnv:
    return make_env(
        auth=False,  # OIDC alone turns authentication on
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks_url,
        oidc_groups_claim="groups",
        oidc_leeway_seconds=LEEWAY,
        admin_groups=["platform-admins"],
    )


def test_a_valid_token_names_user_and_groups(oidc_env: AuthEnv, keys: Keys) -> None:
    env = oidc_env
    env.registry("team")
    env.grant("team", "ml-team", "viewer", kind="group")
    token = keys.sign(preferred_username="dana", groups=["ml-team", "readers"])
    me = ok(env.client.get(f"{SELF}/whoami", headers=bearer(token)))
    assert me == {
        "name": "dana",
        "kind": "user",
        "groups": ["ml-team", "readers"],
        "admin": False,
        "authenticatedBy": "oidc",
    }
    # The group's grant makes dana a viewer of "team", and of nothing else.
    assert ok(env.client.get(f"/registries/team{V1}/registered_models", headers=bearer(token)))["size"] == 0
    refused(
        env.client.post(f"/registries/team{V1}/registered_models", json={"name": "m"}, headers=bearer(token)),
        403,
    )
    refused(
        env.client.get(f"{V1}/registered_models", headers=bearer(token)), 404, "registry 'default' not found"
    )
    mine = ok(env.client.get(f"{SELF}/registries", headers=bearer(token)))["items"]
    assert [(i["name"], i["role"]) for i in mine] == [("team", "viewer")]
    # A grant to the user herself raises her role; what she registers is hers.
    env.grant("team", "dana", "editor")
    made = ok(
        env.client.post(f"/registries/team{V1}/registered_models", json={"name": "m"}, headers=bearer(token)),
        201,
    )
    assert made["owner"] == "dana"
    # No preferred_username: the subject names the user.
    assert ok(env.client.get(f"{SELF}/whoami", headers=bearer(keys.sign())))["name"] == "subject-id"
    # A group listed in admin_groups makes a server admin.
    admin = keys.sign(preferred_username="ops", groups=["platform-admins"])
    assert ok(env.client.get(f"{SELF}/whoami", headers=bearer(admin)))["admin"] is True
    assert env.client.get(f"{ADMIN}/registries", headers=bearer(admin)).status_code == 200
    # modelreg's own tokens keep working beside OIDC.
    assert env.client.get(f"{SELF}/whoami", headers=env.admin).status_code == 200


def test_leeway(oidc_env: AuthEnv, keys: Keys) -> None:
    now = int(time.time())
    within = keys.sign(preferred_username="late", exp=now - LEEWAY // 3, iat=now - 600)
    assert ok(oidc_env.client.get(f"{SELF}/whoami", headers=bearer(within)))["name"] == "late"
    beyond = keys.sign(preferred_username="late", exp=now - LEEWAY - 60, iat=now - 600)
    refused(oidc_env.client.get(f"{SELF}/whoami", headers=bearer(beyond)), 401, "the token has expired")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "https://evil.example.test"}, "issued by another identity provider"),
        ({"aud": "someone-else"}, "issued for another audience"),
        ({"aud": None}, "not valid"),  # no audience at all
        ({"exp": None}, "not valid"),  # no expiry at all
        ({"sub": None}, "carries no 'preferred_username' claim"),
    ],
    ids=["wrong-issuer", "wrong-audience", "no-audience", "no-expiry", "no-username"],
)
def test_refused_claims(oidc_env: AuthEnv, keys: Keys, claims: dict[str, Any], message: str) -> None:
    r = oidc_env.client.get(f"{SELF}/whoami", headers=bearer(keys.sign(**claims)))
    refused(r, 401, message)
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_wrong_signature(oidc_env: AuthEnv, keys: Keys) -> None:
    env = oidc_env
    for token in (
        keys.sign(key=keys.other, preferred_username="mallory"),  # another key, same kid
        keys.sign(key=keys.other, kid="unknown-kid", preferred_username="mallory"),
        keys.sign(preferred_username="mallory")[:-4] + "AAAA",  # tampered signature
        jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "sub": "m"},
            "k" * 32,
            algorithm="HS256",
        ),
        "not.a.jwt",
    ):
        refused(env.client.get(f"{SELF}/whoami", headers=bearer(token)), 401, "bad signature or malformed")
    # alg "none" is never accepted.
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "sub": "m"},
        None,
        algorithm="none",
        headers={"kid": KID},
    )
    refused(env.client.get(f"{SELF}/whoami", headers=bearer(unsigned)), 401)


def test_unreachable_jwks(make_env: EnvFactory, keys: Keys) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    env = make_env(
        oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url=f"http://127.0.0.1:{dead}/jwks.json"
    )
    r = env.client.get(f"{SELF}/whoami", headers=bearer(keys.sign(preferred_username="x")))
    refused(r, 401, "keys cannot be fetched")
