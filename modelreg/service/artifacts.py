"""Artifacts under a model version or an experiment run: upsert and link, as upstream does."""

from __future__ import annotations

from typing import Any

from modelreg.entities import ARTIFACT, BY_KIND
from modelreg.entities.values import CustomProperties
from modelreg.service import resources
from modelreg.service.errors import Conflict, InvalidArgument
from modelreg.store.repository import Record, Repository
from modelreg.store.schema import TABLES
from modelreg.store.session import Session

A = TABLES[ARTIFACT.kind]
UPSERT_BY_NAME = ("metric", "parameter")


def upsert_in_parent(
    session: Session,
    parent_kind: str,
    parent_id: int,
    values: dict[str, Any],
    properties: CustomProperties | None,
    artifact_id: int | None,
) -> tuple[Record, bool]:
    """Create an artifact under the parent, or update/link the one named by id.

    Metrics and parameters are matched by name within the parent, so logging the same
    metric again updates it. Returns the artifact and whether it was created.
    """
    values = dict(values)
    # Creating an artifact touches its parent first, which finds the parent too: it is
    # read beforehand only when a run's experiment is needed or an artifact is linked.
    if artifact_id is not None or parent_kind == "experiment_run":
        parent = resources.get(session, BY_KIND[parent_kind], parent_id)
        if parent_kind == "experiment_run":
            values["experiment_run_id"] = parent.id
            values["experiment_id"] = parent["parent_id"]
    existing: Record | None
    if artifact_id is not None:
        existing = resources.get(session, ARTIFACT, artifact_id)
    else:
        existing = _same_name(session, parent_id, values)
    values["parent_id"] = parent_id
    if existing is None:
        record = resources.create(session, ARTIFACT, values, properties or {}, parent_kind=parent_kind)
        return record, True
    if values.get("type") not in (None, existing["type"]):
        raise InvalidArgument(f"artifact {existing.id} is a {existing['type']}, not a {values['type']}")
    if values.get("name") not in (None, existing["name"]):
        raise InvalidArgument(f"artifact {existing.id} is named {existing['name']!r}; names cannot change")
    if existing["parent_id"] not in (None, parent_id):
        raise Conflict(f"artifact {existing.id} already belongs to {existing['parent_id']}, not {parent_id}")
    values.pop("type", None)
    values.pop("name", None)
    record = resources.patch(session, ARTIFACT, existing.id, values, properties)
    return record, False


def _same_name(session: Session, parent_id: int, values: dict[str, Any]) -> Record | None:
    if values.get("type") not in UPSERT_BY_NAME or not values.get("name"):
        return None
    found = Repository(session, ARTIFACT).select_where(
        A.c.parent_id == parent_id, A.c.name == values["name"], A.c.type == values["type"], limit=1
    )
    return found[0] if found else None
