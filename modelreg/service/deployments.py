"""Deployment rules: nothing that a DEPLOYED inference service serves may vanish or be archived."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select

from modelreg.entities import INFERENCE_SERVICE, MODEL_VERSION, REGISTERED_MODEL, EntitySpec
from modelreg.service.errors import Conflict, InvalidArgument, NotFound
from modelreg.store.repository import PageRequest, Record, Repository
from modelreg.store.schema import TABLES
from modelreg.store.session import Session

IS = TABLES[INFERENCE_SERVICE.kind]
MV = TABLES[MODEL_VERSION.kind]
NEWEST_FIRST = PageRequest(size=1, order_by="CREATE_TIME", descending=True)


def latest_version(session: Session, model_id: int) -> Record | None:
    """The model's newest version: what a service without a modelVersionId serves."""
    found = Repository(session, MODEL_VERSION).page([MV.c.parent_id == model_id], NEWEST_FIRST)[0]
    return found[0] if found else None


def _deployed(session: Session, kind: str, ids: Sequence[int]) -> list[Record]:
    deployed = IS.c.desired_state == "DEPLOYED"
    cond: ColumnElement[bool]
    if kind == "registered_model":
        cond = IS.c.registered_model_id.in_(ids)
    elif kind == "model_version":
        models = {
            int(r.parent_id): int(r.id)
            for r in session.execute(select(MV.c.id, MV.c.parent_id).where(MV.c.id.in_(ids)))
        }
        serving_latest = [m for m in models if (v := latest_version(session, m)) is not None and v.id in ids]
        cond = or_(
            IS.c.model_version_id.in_(ids),
            and_(IS.c.model_version_id.is_(None), IS.c.registered_model_id.in_(serving_latest)),
        )
    elif kind == "serving_environment":
        cond = IS.c.parent_id.in_(ids)
    elif kind == "inference_service":
        cond = IS.c.id.in_(ids)
    else:
        return []
    return Repository(session, INFERENCE_SERVICE).select_where(deployed, cond, limit=5)


def refuse_if_deployed(session: Session, spec: EntitySpec, ids: Sequence[int], action: str) -> None:
    services = _deployed(session, spec.kind, ids)
    if not services:
        return
    names = ", ".join(f"{s['name']!r} (id {s.id})" for s in services)
    target = f"{spec.label} {ids[0]}" if len(ids) == 1 else f"these {spec.label}s"
    raise Conflict(
        f"cannot {action} {target}: inference service {names} is DEPLOYED; "
        "set its desiredState to UNDEPLOYED first"
    )


def check_inference_service(session: Session, values: dict[str, object]) -> None:
    """A service's version must belong to the service's model, and nothing archived may be
    deployed."""
    version_id = values.get("model_version_id")
    model_id = values.get("registered_model_id")
    if values.get("desired_state") == "DEPLOYED" and model_id is not None:
        model = Repository(session, REGISTERED_MODEL).get(int(str(model_id)))
        if model is not None and model["state"] == "ARCHIVED":
            raise Conflict(f"registered model {model_id} is ARCHIVED: restore it before deploying it")
    if version_id is None or model_id is None:
        return
    version = Repository(session, MODEL_VERSION).get(int(str(version_id)))
    if version is None:
        raise NotFound(f"model version with id {version_id} not found")
    if version["parent_id"] != model_id:
        raise InvalidArgument(
            f"model version {version_id} belongs to registered model {version['parent_id']}, not {model_id}"
        )


def check_servable(session: Session, version_id: int, service_id: int | None = None) -> None:
    """A serve record names a version of its service's model; gated Hugging Face models
    cannot be served, as upstream refuses them."""
    version = Repository(session, MODEL_VERSION).get(version_id)
    if version is None:
        raise NotFound(f"model version with id {version_id} not found")
    service = Repository(session, INFERENCE_SERVICE).get(service_id) if service_id is not None else None
    if service is not None and version["parent_id"] != service["registered_model_id"]:
        raise InvalidArgument(
            f"model version {version_id} belongs to registered model {version['parent_id']}, "
            f"but inference service {service_id} serves registered model {service['registered_model_id']}"
        )
    gated = version.properties.get("hf_gated")
    if gated is not None and str(gated.value).lower() not in ("false", ""):
        raise InvalidArgument("cannot deploy gated HuggingFace model")
