"""Experiments and their runs (v1alpha3 only: v1 leaves experiment tracking to MLflow)."""

from modelreg.entities.base import ALPHA_ONLY, EntitySpec, Field, FieldType, Parent
from modelreg.entities.registered_model import MODEL_STATES

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

EXPERIMENT = EntitySpec(
    kind="experiment",
    schema="Experiment",
    label="experiment",
    table="experiments",
    collection="experiments",
    find_path="experiment",
    archivable=True,
    apis=ALPHA_ONLY,
    fields=(
        Field("owner"),
        Field("state", FieldType.ENUM, enum=MODEL_STATES, default="LIVE"),
    ),
)

EXPERIMENT_RUN = EntitySpec(
    kind="experiment_run",
    schema="ExperimentRun",
    label="experiment run",
    table="experiment_runs",
    collection="experiment_runs",
    find_path="experiment_run",
    name_required=False,
    archivable=True,
    apis=ALPHA_ONLY,
    nested_body="full",
    parent=Parent(kinds=("experiment",), field="experimentId"),
    fields=(
        Field(
            "experimentId",
            FieldType.ID,
            column_name="parent_id",
            required=True,
            immutable=True,
            references="experiment",
        ),
        Field("owner"),
        Field("status", FieldType.ENUM, enum=RUN_STATUSES, default="RUNNING"),
        Field("state", FieldType.ENUM, enum=MODEL_STATES, default="LIVE"),
        Field("startTimeSinceEpoch", FieldType.EPOCH_MS, immutable=True),
        Field("endTimeSinceEpoch", FieldType.EPOCH_MS),
    ),
)
