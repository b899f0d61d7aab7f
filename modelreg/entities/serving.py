"""Serving: environments, the inference services deployed in them, and serve records."""

from modelreg.entities.base import EntitySpec, Field, FieldType, Parent

EXECUTION_STATES = ("UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED")

SERVING_ENVIRONMENT = EntitySpec(
    kind="serving_environment",
    schema="ServingEnvironment",
    label="serving environment",
    table="serving_environments",
    collection="serving_environments",
    find_path="serving_environment",
)

INFERENCE_SERVICE = EntitySpec(
    kind="inference_service",
    schema="InferenceService",
    label="inference service",
    table="inference_services",
    collection="inference_services",
    find_path="inference_service",
    name_required=False,
    parent=Parent(kinds=("serving_environment",), field="servingEnvironmentId"),
    fields=(
        Field(
            "registeredModelId",
            FieldType.ID,
            required=True,
            immutable=True,
            references="registered_model",
        ),
        Field(
            "servingEnvironmentId",
            FieldType.ID,
            column_name="parent_id",
            required=True,
            immutable=True,
            references="serving_environment",
        ),
        Field("modelVersionId", FieldType.ID, references="model_version"),
        Field("runtime"),
        Field("desiredState", FieldType.ENUM, enum=("DEPLOYED", "UNDEPLOYED"), default="DEPLOYED"),
    ),
)

SERVE_MODEL = EntitySpec(
    kind="serve_model",
    schema="ServeModel",
    label="serve model",
    table="serve_models",
    collection="serves",
    find_path=None,
    name_required=False,
    top_level=False,
    parent=Parent(kinds=("inference_service",), field=""),
    fields=(
        Field(
            "modelVersionId",
            FieldType.ID,
            required=True,
            immutable=True,
            references="model_version",
        ),
        Field("lastKnownState", FieldType.ENUM, enum=EXECUTION_STATES, default="UNKNOWN"),
    ),
)
