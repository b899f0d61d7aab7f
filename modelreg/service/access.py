"""Authorization: which role a principal holds in a registry, and the check every route makes.

Grants go to users, groups and service accounts. Server admins hold every role
everywhere. A registry the caller holds no role in does not exist for them: 404, not
403, so its name does not leak.
"""

from __future__ import annotations

import time

from sqlalchemy import and_, delete, or_, select

from modelreg.service import history
from modelreg.service.errors import Forbidden, InvalidArgument, NotFound, Unauthenticated
from modelreg.service.principals import RANK, ROLES, SUBJECT_KINDS, Principal, at_least
from modelreg.store.schema import grants
from modelreg.store.session import Session

PUBLIC = "public"
AUTHENTICATED = "authenticated"  # any caller with valid credentials
ADMIN = "admin"
READS = ("list", "get", "find", "read")
# Deleting these takes everything under them with it: only owners may.
OWNER_DELETES = ("registered_model", "experiment")


def role_for(entity_kind: str, action: str) -> str:
    """The role an action on an entity needs: read as viewer, change as editor, and
    delete a whole model or experiment as owner."""
    if action in READS:
        return "viewer"
    if action == "delete" and entity_kind in OWNER_DELETES:
        return "owner"
    return "editor"


def role_in(session: Session, principal: Principal, registry: str) -> str | None:
    """The highest role the principal holds in the registry, or None."""
    if principal.admin:
        return "owner"
    if principal.anonymous:
        return None
    who = [and_(grants.c.subject_kind.in_(("user", "serviceaccount")), grants.c.subject == principal.name)]
    if principal.groups:
        who.append(and_(grants.c.subject_kind == "group", grants.c.subject.in_(sorted(principal.groups))))
    rows = session.execute(select(grants.c.role).where(grants.c.registry == registry, or_(*who)))
    held = [r[0] for r in rows if r[0] in RANK]
    return max(held, key=RANK.__getitem__) if held else None


def visible_registries(session: Session, principal: Principal) -> set[str] | None:
    """The registries the principal holds a role in; None means all (an admin)."""
    if principal.admin:
        return None
    who = [and_(grants.c.subject_kind.in_(("user", "serviceaccount")), grants.c.subject == principal.name)]
    if principal.groups:
        who.append(and_(grants.c.subject_kind == "group", grants.c.subject.in_(sorted(principal.groups))))
    return {r[0] for r in session.execute(select(grants.c.registry).where(or_(*who)).distinct())}


def require(
    session: Session | None,
    principal: Principal,
    registry: str | None,
    need: str,
    *,
    anonymous_read: bool = False,
    read_only: bool = True,
) -> str | None:
    """Raise unless the principal may do what needs `need` in `registry`; return its role."""
    if need == PUBLIC:
        return None
    if principal.anonymous:
        if anonymous_read and need == "viewer" and read_only:
            return "viewer"
        raise Unauthenticated("credentials are required: send 'Authorization: Bearer <token>'")
    if need == AUTHENTICATED:
        return None
    if need == ADMIN:
        if not principal.admin:
            raise Forbidden(f"{principal.name!r} is not a server administrator")
        return "owner"
    assert registry is not None and session is not None
    role = role_in(session, principal, registry)
    if role is None:
        raise NotFound(f"registry {registry!r} not found")
    if not at_least(role, need):
        raise Forbidden(f"{principal.name!r} is {role} of registry {registry!r}; this needs {need}")
    return role


def check_grant(subject_kind: str, subject: str, role: str) -> None:
    if subject_kind not in SUBJECT_KINDS:
        raise InvalidArgument(f"subject kind must be one of {', '.join(SUBJECT_KINDS)}, got {subject_kind!r}")
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not subject or len(subject) > 255:
        raise InvalidArgument("a grant's subject must be 1 to 255 characters")


def list_grants(session: Session, registry: str) -> list[dict[str, object]]:
    rows = session.execute(
        select(grants).where(grants.c.registry == registry).order_by(grants.c.subject_kind, grants.c.subject)
    )
    return [dict(r._mapping) for r in rows]


def put_grant(
    session: Session, registry: str, subject_kind: str, subject: str, role: str, by: str
) -> dict[str, object]:
    """Grant `role` (replacing any earlier role of the subject), recorded in the history."""
    check_grant(subject_kind, subject, role)
    key = and_(
        grants.c.registry == registry, grants.c.subject_kind == subject_kind, grants.c.subject == subject
    )
    before = session.execute(select(grants.c.role).where(key)).scalar()
    session.execute(delete(grants).where(key))
    row = {
        "registry": registry,
        "subject_kind": subject_kind,
        "subject": subject,
        "role": role,
        "create_time": time.time_ns() // 1_000_000,
        "created_by": by,
    }
    session.execute(grants.insert().values(**row))
    _record(session, "grant", registry, subject_kind, subject, before, role)
    return row


def remove_grant(session: Session, registry: str, subject_kind: str, subject: str) -> None:
    """Take the subject's role away, recorded in the history."""
    key = and_(
        grants.c.registry == registry, grants.c.subject_kind == subject_kind, grants.c.subject == subject
    )
    before = session.execute(select(grants.c.role).where(key)).scalar()
    if before is None:
        raise NotFound(f"{subject_kind} {subject!r} holds no role in registry {registry!r}")
    session.execute(delete(grants).where(key))
    _record(session, "revoke", registry, subject_kind, subject, str(before), None)


def _record(
    session: Session,
    action: str,
    registry: str,
    subject_kind: str,
    subject: str,
    before: str | None,
    after: str | None,
) -> None:
    history.record(
        session,
        action,
        "grant",
        f"{subject_kind}:{subject}",
        subject,
        {"role": {"before": before, "after": after}},
        registry=registry,
    )


def remove_all_grants(session: Session, registry: str) -> None:
    session.execute(delete(grants).where(grants.c.registry == registry))
