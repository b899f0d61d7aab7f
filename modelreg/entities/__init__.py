"""Every entity modelreg stores, declared once; store, service and api read them here."""

from modelreg.entities.artifact import ARTIFACT, METRIC_HISTORY
from modelreg.entities.base import ALL_APIS, V1, V1ALPHA3, EntitySpec, Field, FieldType, Parent
from modelreg.entities.experiment import EXPERIMENT, EXPERIMENT_RUN
from modelreg.entities.model_version import MODEL_VERSION
from modelreg.entities.registered_model import REGISTERED_MODEL
from modelreg.entities.serving import INFERENCE_SERVICE, SERVE_MODEL, SERVING_ENVIRONMENT

ENTITIES: tuple[EntitySpec, ...] = (
    REGISTERED_MODEL,
    MODEL_VERSION,
    ARTIFACT,
    SERVING_ENVIRONMENT,
    INFERENCE_SERVICE,
    SERVE_MODEL,
    EXPERIMENT,
    EXPERIMENT_RUN,
    METRIC_HISTORY,
)
BY_KIND: dict[str, EntitySpec] = {e.kind: e for e in ENTITIES}


def children_of(kind: str) -> tuple[EntitySpec, ...]:
    """The entities whose parent can be `kind`: what a delete of it cascades to."""
    return tuple(e for e in ENTITIES if e.parent is not None and kind in e.parent.kinds)


def referrers_of(kind: str) -> tuple[tuple[EntitySpec, Field], ...]:
    """Fields of other entities that point at `kind` without being their parent."""
    return tuple(
        (e, f) for e in ENTITIES for f in e.all_fields() if f.references == kind and f.column != "parent_id"
    )


__all__ = [
    "ALL_APIS",
    "ARTIFACT",
    "BY_KIND",
    "ENTITIES",
    "EXPERIMENT",
    "EXPERIMENT_RUN",
    "INFERENCE_SERVICE",
    "METRIC_HISTORY",
    "MODEL_VERSION",
    "REGISTERED_MODEL",
    "SERVE_MODEL",
    "SERVING_ENVIRONMENT",
    "V1",
    "V1ALPHA3",
    "EntitySpec",
    "Field",
    "FieldType",
    "Parent",
    "children_of",
    "referrers_of",
]
