"""Archiving cascades: a model's versions follow it into the archive and back out."""

from __future__ import annotations

from modelreg.entities import EntitySpec, children_of
from modelreg.service import history
from modelreg.service.deployments import refuse_if_deployed
from modelreg.store.repository import Record, Repository
from modelreg.store.schema import TABLES
from modelreg.store.session import Session

ARCHIVED = "ARCHIVED"
LIVE = "LIVE"


def before_patch(session: Session, spec: EntitySpec, before: Record, values: dict[str, object]) -> None:
    if spec.archivable and values.get("state") == ARCHIVED and before["state"] != ARCHIVED:
        refuse_if_deployed(session, spec, [before.id], "archive")
        if values.get("state") == ARCHIVED:
            values["archived_with_parent"] = False


def after_patch(session: Session, spec: EntitySpec, before: Record, after: Record) -> None:
    if not spec.archivable or before["state"] == after["state"]:
        return
    for child in children_of(spec.kind):
        if not child.archivable:
            continue
        t = TABLES[child.kind]
        repo = Repository(session, child)
        now = after["update_time"]
        if after["state"] == ARCHIVED:
            which = [t.c.parent_id == after.id, t.c.state == LIVE]
            change, action = {"state": ARCHIVED, "archived_with_parent": True}, "archive"
        elif after["state"] == LIVE:
            which = [t.c.parent_id == after.id, t.c.archived_with_parent.is_(True)]
            change, action = {"state": LIVE, "archived_with_parent": False}, "restore"
        else:
            continue
        for rows in repo.select_where(*which):
            history.record(
                session,
                action,
                child.kind,
                rows.id,
                rows["name"],
                {"state": {"before": rows["state"], "after": change["state"]}},
            )
        repo.update_where(which, {**change, "update_time": now})
