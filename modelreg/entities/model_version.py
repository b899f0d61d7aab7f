"""ModelVersion: one version of a registered model, named uniquely within it."""

from modelreg.entities.base import EntitySpec, Field, FieldType, Parent
from modelreg.entities.registered_model import MODEL_STATES

MODEL_VERSION = EntitySpec(
    kind="model_version",
    schema="ModelVersion",
    label="model version",
    table="model_versions",
    collection="model_versions",
    find_path="model_version",
    archivable=True,
    nested_path="versions",
    nested_body="full",
    parent=Parent(kinds=("registered_model",), field="registeredModelId"),
    fields=(
        Field(
            "registeredModelId",
            FieldType.ID,
            column_name="parent_id",
            required=True,
            immutable=True,
            references="registered_model",
        ),
        Field("author"),
        Field("state", FieldType.ENUM, enum=MODEL_STATES, default="LIVE"),
    ),
)
