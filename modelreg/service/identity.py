"""Authentication: who a request comes from, by API token, OIDC bearer JWT or proxy headers.

With none of them configured and a loopback address, modelreg runs in single-user mode:
every request is the local user, with every right.
"""

from __future__ import annotations

import getpass
import ipaddress
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from modelreg.service import oidc, tokens
from modelreg.service.errors import InvalidArgument, Unauthenticated, Unavailable
from modelreg.service.principals import ANONYMOUS, Principal
from modelreg.settings import Settings
from modelreg.store.schema import api_tokens, group_members, users
from modelreg.store.session import Database

log = logging.getLogger("modelreg.auth")
LAST_USED_EVERY_MS = 60_000


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audiences: tuple[str, ...]  # the API's audience, and the UI's client id: its ID tokens sign browsers in
    jwks_url: str | None  # None: the one the issuer's discovery document names
    username_claim: str
    groups_claim: str
    leeway_s: int


class Authenticator:
    """Turns request headers into a Principal, or raises Unauthenticated."""

    def __init__(self, settings: Settings, control: Database) -> None:
        self.control = control
        self.single_user = not settings.auth_enabled()
        self.local_name = settings.single_user_name or _login_name()
        self._local = Principal(self.local_name, admin=True, method="single-user")  # immutable: one for all
        self.admin_users = set(settings.admin_users)
        self.admin_groups = set(settings.admin_groups)
        self.user_header = (settings.proxy_user_header or "").lower() or None
        self.groups_header = (settings.proxy_groups_header or "").lower() or None
        self.oidc: OidcConfig | None = None
        self._jwks: Any = None
        if settings.oidc_issuer:
            audience = settings.oidc_audience or "modelreg"
            client = settings.oidc_client_id
            self.oidc = OidcConfig(
                issuer=settings.oidc_issuer,
                audiences=(audience, client) if client and client != audience else (audience,),
                jwks_url=settings.oidc_jwks_url,
                username_claim=settings.oidc_username_claim,
                groups_claim=settings.oidc_groups_claim,
                leeway_s=settings.oidc_leeway_seconds,
            )

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        if self.single_user:
            return self._local
        auth = headers.get("authorization", "")
        if auth:
            scheme, _, credential = auth.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            return self._bearer(credential.strip())
        if self.user_header and headers.get(self.user_header):
            return self._from_proxy(headers)
        return ANONYMOUS

    # ---------------------------------------------------------------- ways in

    def _bearer(self, credential: str) -> Principal:
        if tokens.looks_like_token(credential):
            with self.control.read_only() as session:
                info = tokens.verify(session, credential)
            if info is None:
                raise Unauthenticated("the token is not valid: it is unknown, expired or revoked")
            self._touch(info)
            return self._principal(info.user, frozenset(), "token")
        if self.oidc is not None:
            return self._from_jwt(credential)
        raise Unauthenticated("the token is not valid: it is not a modelreg token")

    def _from_jwt(self, credential: str) -> Principal:
        import jwt

        assert self.oidc is not None
        try:
            if self._jwks is None:
                url = self.oidc.jwks_url or oidc.discover(self.oidc.issuer).jwks_uri
                self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300)
            claims = oidc.decode(
                credential,
                self._jwks,
                issuer=self.oidc.issuer,
                audience=self.oidc.audiences,
                leeway_s=self.oidc.leeway_s,
                require=["exp", "iss", "aud"],
            )
        except Unavailable:
            log.warning(
                "cannot fetch the identity provider's keys (from %s)", self.oidc.jwks_url or "discovery"
            )
            raise Unauthenticated("the identity provider's keys cannot be fetched; try again later") from None
        name = claims.get(self.oidc.username_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise Unauthenticated(f"the token carries no {self.oidc.username_claim!r} claim")
        raw_groups = claims.get(self.oidc.groups_claim, [])
        groups = (
            frozenset(g for g in raw_groups if isinstance(g, str))
            if isinstance(raw_groups, list)
            else frozenset()
        )
        return self._principal(name, groups, "oidc")

    def _from_proxy(self, headers: Mapping[str, str]) -> Principal:
        assert self.user_header is not None
        name = headers[self.user_header].strip()
        groups: frozenset[str] = frozenset()
        if self.groups_header and headers.get(self.groups_header):
            groups = frozenset(g.strip() for g in headers[self.groups_header].split(",") if g.strip())
        return self._principal(name, groups, "proxy")

    # ---------------------------------------------------------------- helpers

    def _principal(self, name: str, groups: frozenset[str], method: str) -> Principal:
        with self.control.read_only() as session:
            local_groups = {
                r[0]
                for r in session.execute(
                    select(group_members.c.group_name).where(group_members.c.user_name == name)
                )
            }
            row = session.execute(select(users.c.kind, users.c.is_admin).where(users.c.name == name)).first()
        all_groups = frozenset(groups | local_groups)
        kind = (
            row.kind
            if row is not None
            else ("serviceaccount" if name.startswith("system:serviceaccount:") else "user")
        )
        admin = (
            name in self.admin_users
            or bool(all_groups & self.admin_groups)
            or (row is not None and bool(row.is_admin))
        )
        return Principal(name, kind=kind, groups=all_groups, admin=admin, method=method)

    def _touch(self, info: tokens.TokenInfo) -> None:
        now = time.time_ns() // 1_000_000
        if info.last_used_time is not None and now - info.last_used_time < LAST_USED_EVERY_MS:
            return
        try:
            with self.control.unit_of_work() as session:
                session.execute(
                    update(api_tokens).where(api_tokens.c.id == info.id).values(last_used_time=now)
                )
        except Exception:  # bookkeeping must never fail a request
            log.debug("could not record token use", exc_info=True)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_unsafe_listen(settings: Settings) -> None:
    """Without authentication, modelreg serves only this machine, unless told otherwise."""
    if settings.auth_enabled() or settings.insecure_no_auth or is_loopback(settings.host):
        return
    raise InvalidArgument(
        f"refusing to listen on {settings.host} without authentication: set MODELREG_AUTH=true "
        "(modelreg API tokens), MODELREG_OIDC_ISSUER or MODELREG_PROXY_USER_HEADER, "
        "or pass --insecure-no-auth"
    )


def describe_mode(settings: Settings) -> str:
    if settings.auth_enabled():
        ways = ["modelreg API tokens"]
        if settings.oidc_issuer:
            ways.append(f"OIDC tokens from {settings.oidc_issuer}")
        if settings.proxy_user_header:
            ways.append(f"trusted proxy header {settings.proxy_user_header}")
        return "requires authentication: " + ", ".join(ways)
    who = settings.single_user_name or _login_name()
    if settings.insecure_no_auth and not is_loopback(settings.host):
        return f"runs WITHOUT authentication on {settings.host} (--insecure-no-auth): every caller acts as {who!r}"
    return f"runs in single-user mode: no authentication, every request acts as {who!r}"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "local"
