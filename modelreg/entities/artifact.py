"""Artifacts: five kinds in one table, told apart by `artifactType`.

An artifact belongs to a model version or to an experiment run, or to nothing yet
(created standalone and linked to a version later).
"""

from modelreg.entities.base import (
    ALPHA_ONLY,
    EntitySpec,
    Field,
    FieldType,
    Parent,
    Variant,
    View,
)

ARTIFACT_STATES = (
    "UNKNOWN",
    "PENDING",
    "LIVE",
    "MARKED_FOR_DELETION",
    "DELETED",
    "ABANDONED",
    "REFERENCE",
)
PARAMETER_TYPES = ("string", "number", "boolean", "object")

URI = Field("uri", FieldType.TEXT)
METRIC_FIELDS = (
    Field("value", FieldType.DOUBLE, column_name="metric_value"),
    Field("timestamp", FieldType.EPOCH_MS),
    Field("step", FieldType.STEP),
)

ARTIFACT = EntitySpec(
    kind="artifact",
    schema="Artifact",
    label="artifact",
    table="artifacts",
    collection="artifacts",
    find_path="artifact",
    name_required=False,
    parent=Parent(kinds=("model_version", "experiment_run"), field="", required=False),
    discriminator="artifactType",
    nested_body="full",
    views=(View("model_artifacts", "model_artifact", "model-artifact", "model_artifact"),),
    fields=(
        Field("state", FieldType.ENUM, enum=ARTIFACT_STATES, default="UNKNOWN"),
        Field("experimentId", FieldType.ID, apis=ALPHA_ONLY, references="experiment"),
        Field("experimentRunId", FieldType.ID, apis=ALPHA_ONLY, references="experiment_run"),
    ),
    variants=(
        Variant(
            "model-artifact",
            "ModelArtifact",
            "model artifact",
            (
                URI,
                Field("modelFormatName"),
                Field("modelFormatVersion"),
                Field("storageKey"),
                Field("storagePath", FieldType.TEXT),
                Field("serviceAccountName"),
                Field("modelSourceKind"),
                Field("modelSourceClass"),
                Field("modelSourceGroup"),
                Field("modelSourceId"),
                Field("modelSourceName"),
            ),
        ),
        Variant("doc-artifact", "DocArtifact", "doc artifact", (URI,)),
        Variant(
            "dataset-artifact",
            "DataSet",
            "dataset",
            (
                Field("digest"),
                Field("sourceType"),
                Field("source", FieldType.TEXT),
                Field("schema", FieldType.TEXT),
                Field("profile", FieldType.TEXT),
                URI,
            ),
        ),
        Variant("metric", "Metric", "metric", METRIC_FIELDS),
        Variant(
            "parameter",
            "Parameter",
            "parameter",
            (
                Field("value", FieldType.TEXT, column_name="parameter_value"),
                Field("parameterType", FieldType.ENUM, enum=PARAMETER_TYPES, default="string"),
            ),
        ),
    ),
)

# One point of a metric's history in a run: written by the server whenever a run's
# metric is logged, read through the metric_history endpoints as `Metric` items.
METRIC_HISTORY = EntitySpec(
    kind="metric_history",
    schema="Metric",
    label="metric history entry",
    table="metric_history",
    collection="metric_history",
    find_path=None,
    name_unique=False,
    top_level=False,
    generic_routes=False,
    apis=ALPHA_ONLY,
    parent=Parent(kinds=("experiment_run",), field="experimentRunId"),
    fields=(
        Field(
            "experimentRunId",
            FieldType.ID,
            column_name="parent_id",
            immutable=True,
            references="experiment_run",
        ),
        Field("state", FieldType.ENUM, enum=ARTIFACT_STATES, default="UNKNOWN"),
        *METRIC_FIELDS,
    ),
)
