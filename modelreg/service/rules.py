"""Entity-specific rules, called by the generic operations in `resources.py` at fixed points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete

from modelreg.entities import EntitySpec
from modelreg.entities.values import CustomProperties
from modelreg.service import archiving, deployments, history, metrics
from modelreg.service.errors import InvalidArgument
from modelreg.store.files import artifact_key
from modelreg.store.repository import Record
from modelreg.store.schema import artifact_files
from modelreg.store.session import Session

IDENTITY_COLUMNS = ("owner", "author")


def before_create(
    session: Session, spec: EntitySpec, values: dict[str, Any], properties: CustomProperties
) -> None:
    # owner and author name who registered it unless the caller says otherwise.
    actor = history.current_actor(session)
    if actor is not None:
        for f in spec.fields:
            if f.column in IDENTITY_COLUMNS and values.get(f.column) is None:
                values[f.column] = actor
    if spec.kind == "inference_service":
        deployments.check_inference_service(session, values)
    elif spec.kind == "serve_model":
        deployments.check_servable(session, int(values["model_version_id"]), values.get("parent_id"))
    elif spec.kind == "artifact" and values.get("type") == "metric" and values.get("metric_value") is None:
        raise InvalidArgument("a metric needs a value")


def create_runs_nothing(spec: EntitySpec, values: dict[str, Any]) -> bool:
    """Whether `before_create` and `after_create` run no statement for this create, so
    that it can be one statement (resources.create)."""
    if spec.kind in ("inference_service", "serve_model"):
        return False  # their checks read (deployments)
    # A run's metric also appends to its history (metrics.record_history).
    return not (spec.kind == "artifact" and values.get("experiment_run_id") is not None)


def after_create(session: Session, spec: EntitySpec, record: Record) -> None:
    metrics.record_history(session, spec, record)


def before_patch(session: Session, spec: EntitySpec, before: Record, values: dict[str, Any]) -> None:
    archiving.before_patch(session, spec, before, values)
    if spec.kind == "inference_service":
        deployments.check_inference_service(session, {**before.values, **values})


def after_patch(session: Session, spec: EntitySpec, before: Record, after: Record) -> None:
    archiving.after_patch(session, spec, before, after)
    metrics.record_history(session, spec, after)


def before_delete(session: Session, spec: EntitySpec, ids: Sequence[int]) -> None:
    deployments.refuse_if_deployed(session, spec, ids, "delete")
    if spec.kind == "artifact":
        forget_files(session, ids)


def forget_files(session: Session, artifact_ids: Sequence[int]) -> None:
    """Drop deleted artifacts' manifests now, and their stored bytes once the change commits."""
    session.execute(delete(artifact_files).where(artifact_files.c.artifact_id.in_(artifact_ids)))
    session.info.setdefault("drop_prefixes", []).extend(artifact_key(i) for i in artifact_ids)
