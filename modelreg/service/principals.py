"""Who is calling: a principal, and the roles it can hold in a registry."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("viewer", "editor", "owner")
RANK = {role: i for i, role in enumerate(ROLES)}
SUBJECT_KINDS = ("user", "group", "serviceaccount")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one)."""

    name: str
    kind: str = "user"  # "user", "serviceaccount" or "anonymous"
    groups: frozenset[str] = field(default_factory=frozenset)
    admin: bool = False
    method: str = "none"  # "token", "oidc", "proxy", "single-user", "none"

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"


ANONYMOUS = Principal(name="anonymous", kind="anonymous")


def at_least(have: str | None, need: str) -> bool:
    return have is not None and RANK[have] >= RANK[need]
