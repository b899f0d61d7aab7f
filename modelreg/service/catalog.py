"""What the web UI's catalog pages need beyond the generic entity services.

Keyword search over a model's name, description, owner, labels, custom property values and
its versions' names and descriptions (server-side, on keyset pages: a constant number of
queries per page, whatever the catalog's size), and per-page summaries (latest version,
deployment count) fetched in one query each for the whole page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, text, union_all

from modelreg.entities import INFERENCE_SERVICE, MODEL_VERSION, REGISTERED_MODEL
from modelreg.service import deployments
from modelreg.service.errors import InvalidArgument
from modelreg.store.repository import BadPageToken, PageRequest, Record, Repository
from modelreg.store.schema import TABLES, custom_properties
from modelreg.store.session import Session

RM = TABLES[REGISTERED_MODEL.kind]
MV = TABLES[MODEL_VERSION.kind]
IS = TABLES[INFERENCE_SERVICE.kind]
CP = custom_properties
ESCAPE = "\\"
MAX_KEYWORD = 200


def _pattern(keyword: str) -> str:
    text = keyword.strip().lower()
    for ch in (ESCAPE, "%", "_"):
        text = text.replace(ch, ESCAPE + ch)
    return f"%{text}%"


def contains(col: Any, pattern: str, dialect: str = "") -> ColumnElement[bool]:
    """`col` contains the (lower-cased, escaped) pattern, ignoring case (PostgreSQL's ILIKE
    is quicker than lower() per row; the SQLite engine runs LIKE case-sensitively)."""
    if dialect == "postgresql":
        return col.ilike(pattern, escape=ESCAPE)
    if dialect == "sqlite":  # run under _ascii_case_blind_like: lower() per row costs 10x
        return col.like(pattern, escape=ESCAPE)
    return func.lower(col).like(pattern, escape=ESCAPE)


def keyword_condition(
    table: Any, keyword: str, *, with_versions: bool, dialect: str = ""
) -> ColumnElement[bool]:
    """Name, description, owner/author, a label (an empty-valued property) or a string
    property value contains `keyword`, case-insensitively; for models, also a version's.

    Written as `id IN (one scan per table, united)` rather than correlated EXISTS per row,
    so that a search matching nothing costs three table scans, not 100k probes."""
    if len(keyword) > MAX_KEYWORD:
        raise InvalidArgument(f"a search is at most {MAX_KEYWORD} characters")
    p = _pattern(keyword)

    def _contains(col: Any, pattern: str) -> ColumnElement[bool]:
        return contains(col, pattern, dialect)

    person = table.c.owner if "owner" in table.c else table.c.author
    parts = [
        select(table.c.id).where(
            or_(_contains(table.c.name, p), _contains(table.c.description, p), _contains(person, p))
        ),
        select(CP.c.resource_id).where(
            or_(and_(CP.c.string_value == "", _contains(CP.c.name, p)), _contains(CP.c.string_value, p))
        ),
    ]
    if with_versions:
        parts.append(
            select(MV.c.parent_id).where(or_(_contains(MV.c.name, p), _contains(MV.c.description, p)))
        )
    return table.c.id.in_(union_all(*parts))


def _dialect(session: Session) -> str:
    return str(session.get_bind().dialect.name)


@contextmanager
def _ascii_case_blind_like(session: Session) -> Iterator[None]:
    """SQLite connections run LIKE case-sensitively (filterQuery's semantics); a keyword
    search turns that off for its own statement and back on, on the same connection."""
    if _dialect(session) != "sqlite":
        yield
        return
    session.execute(text("PRAGMA case_sensitive_like=OFF"))
    try:
        yield
    finally:
        session.execute(text("PRAGMA case_sensitive_like=ON"))


def _page(
    session: Session, spec: Any, conds: list[ColumnElement[bool]], page: PageRequest
) -> tuple[list[Record], str]:
    try:
        with _ascii_case_blind_like(session):
            return Repository(session, spec).page(conds, page)
    except BadPageToken as exc:
        raise InvalidArgument(str(exc)) from None


def search_models(
    session: Session,
    page: PageRequest,
    *,
    keyword: str | None = None,
    owner: str | None = None,
    state: str | None = "LIVE",
) -> tuple[list[Record], str]:
    """One keyset page of registered models matching the search."""
    conds: list[ColumnElement[bool]] = []
    if state:
        conds.append(RM.c.state == state)
    if owner:
        conds.append(func.lower(RM.c.owner) == owner.strip().lower())
    if keyword and keyword.strip():
        conds.append(keyword_condition(RM, keyword, with_versions=True, dialect=_dialect(session)))
    return _page(session, REGISTERED_MODEL, conds, page)


def search_versions(
    session: Session,
    page: PageRequest,
    *,
    model_id: int | None = None,
    keyword: str | None = None,
    state: str | None = "LIVE",
) -> tuple[list[Record], str]:
    """One keyset page of model versions (of one model, or of all)."""
    conds: list[ColumnElement[bool]] = []
    if model_id is not None:
        conds.append(MV.c.parent_id == model_id)
    if state:
        conds.append(MV.c.state == state)
    if keyword and keyword.strip():
        conds.append(keyword_condition(MV, keyword, with_versions=False, dialect=_dialect(session)))
    return _page(session, MODEL_VERSION, conds, page)


@dataclass(frozen=True)
class ModelSummary:
    latest_version_id: int | None = None
    latest_version_name: str | None = None
    deployments: int = 0


def summaries(session: Session, model_ids: Sequence[int]) -> dict[int, ModelSummary]:
    """Latest live version and deployed-service count of each model: two queries in all."""
    if not model_ids:
        return {}
    ids = list(model_ids)
    newest = (
        select(MV.c.parent_id, func.max(MV.c.id).label("vid"))
        .where(MV.c.parent_id.in_(ids), MV.c.state == "LIVE")
        .group_by(MV.c.parent_id)
        .subquery()
    )
    latest = {
        int(r.parent_id): (int(r.id), str(r.name))
        for r in session.execute(
            select(newest.c.parent_id, MV.c.id, MV.c.name).join(MV, MV.c.id == newest.c.vid)
        )
    }
    deployed = {
        int(r[0]): int(r[1])
        for r in session.execute(
            select(IS.c.registered_model_id, func.count())
            .where(IS.c.registered_model_id.in_(ids), IS.c.desired_state == "DEPLOYED")
            .group_by(IS.c.registered_model_id)
        )
    }
    out = {}
    for i in ids:
        v = latest.get(i)
        out[i] = ModelSummary(v[0] if v else None, v[1] if v else None, deployed.get(i, 0))
    return out


def deployments_of(
    session: Session, *, model_id: int | None = None, version_id: int | None = None
) -> list[Record]:
    """The inference services of a model, or serving one version (named, or as the model's
    latest), newest first, at most 200."""
    conds: list[ColumnElement[bool]] = []
    if model_id is not None:
        conds.append(IS.c.registered_model_id == model_id)
    if version_id is not None:
        serves: ColumnElement[bool] = IS.c.model_version_id == version_id
        version = Repository(session, MODEL_VERSION).get(version_id)
        latest = deployments.latest_version(session, version["parent_id"]) if version is not None else None
        if latest is not None and latest.id == version_id:
            serves = or_(
                serves, and_(IS.c.model_version_id.is_(None), IS.c.registered_model_id == latest["parent_id"])
            )
        conds.append(serves)
    page = PageRequest(size=200, order_by="LAST_UPDATE_TIME", descending=True)
    return _page(session, INFERENCE_SERVICE, conds, page)[0]
