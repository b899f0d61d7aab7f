"""API tokens that modelreg issues: shown once, stored as a SHA-256 hash, expiring, revocable.

A token reads `mrg_<id>_<secret>`: the id finds the row, the secret is compared by its
hash in constant time. Secrets are 256 random bits, so a plain hash is as good as a slow
one and keeps every request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from modelreg.service import history
from modelreg.service.errors import InvalidArgument, NotFound
from modelreg.store.schema import api_tokens
from modelreg.store.session import Session

PREFIX = "mrg_"
MAX_LIFETIME_S = 10 * 365 * 24 * 3600  # ten years
_FORMAT = re.compile(r"^mrg_([1-9][0-9]{0,9})_([A-Za-z0-9_-]{20,100})$")


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user: str
    name: str
    create_time: int
    expire_time: int | None
    revoke_time: int | None
    last_used_time: int | None
    created_by: str | None

    @property
    def active(self) -> bool:
        now = _now()
        return self.revoke_time is None and (self.expire_time is None or self.expire_time > now)


def _now() -> int:
    return time.time_ns() // 1_000_000


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: object) -> TokenInfo:
    r = row._mapping  # type: ignore[attr-defined]
    return TokenInfo(
        id=int(r["id"]),
        user=r["user_name"],
        name=r["name"],
        create_time=int(r["create_time"]),
        expire_time=r["expire_time"],
        revoke_time=r["revoke_time"],
        last_used_time=r["last_used_time"],
        created_by=r["created_by"],
    )


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)


def issue(
    session: Session, *, user: str, name: str, expires_in_s: int | None, created_by: str | None
) -> tuple[TokenInfo, str]:
    """A new token for `user`; the returned secret is never stored and never shown again."""
    if not user or len(user) > 255:
        raise InvalidArgument("a token needs a user name of 1 to 255 characters")
    if expires_in_s is not None and expires_in_s <= 0:
        raise InvalidArgument("a token's lifetime must be positive")
    secret = secrets.token_urlsafe(32)
    now = _now()
    expire = now + expires_in_s * 1000 if expires_in_s is not None else None
    result: Any = session.execute(
        insert(api_tokens).values(
            user_name=user,
            name=name or "token",
            secret_hash=_hash(secret),
            create_time=now,
            expire_time=expire,
            created_by=created_by,
        )
    )
    token_id = int(result.inserted_primary_key[0])
    info = get(session, token_id)
    return info, f"{PREFIX}{token_id}_{secret}"


def issue_recorded(
    session: Session, user: str, name: str | None, expires_in_s: int | None, by: str
) -> tuple[TokenInfo, str]:
    """Issue a token and record it in the history (never its secret).

    The one way tokens come to be: the admin API and `modelreg admin tokens create --local`
    (the first admin's token, minted on the server's machine) both call this.
    """
    if expires_in_s is not None and not 0 < expires_in_s <= MAX_LIFETIME_S:
        raise InvalidArgument(
            f"a token's lifetime must be from 1 second to {MAX_LIFETIME_S} seconds (ten years)"
        )
    info, secret = issue(session, user=user, name=name or "token", expires_in_s=expires_in_s, created_by=by)
    history.record(
        session,
        "issue",
        "token",
        str(info.id),
        info.name,
        {
            "user": {"before": None, "after": info.user},
            "expireTimeSinceEpoch": {"before": None, "after": info.expire_time},
        },
        registry=history.SERVER,
    )
    return info, secret


def get(session: Session, token_id: int) -> TokenInfo:
    row = session.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None:
        raise NotFound(f"token {token_id} not found")
    return _info(row)


def list_tokens(session: Session, user: str | None = None) -> list[TokenInfo]:
    stmt = select(api_tokens).order_by(api_tokens.c.id)
    if user is not None:
        stmt = stmt.where(api_tokens.c.user_name == user)
    return [_info(r) for r in session.execute(stmt)]


def revoke(session: Session, token_id: int) -> TokenInfo:
    info = get(session, token_id)
    if info.revoke_time is None:
        session.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoke_time=_now()))
    return get(session, token_id)


def verify(session: Session, presented: str) -> TokenInfo | None:
    """The active token this is, or None: wrong, expired and revoked tokens look alike."""
    m = _FORMAT.match(presented)
    if m is None:
        return None
    row = session.execute(select(api_tokens).where(api_tokens.c.id == int(m.group(1)))).first()
    if row is None:
        return None
    if not hmac.compare_digest(row._mapping["secret_hash"], _hash(m.group(2))):
        return None
    info = _info(row)
    return info if info.active else None
