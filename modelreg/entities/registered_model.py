"""RegisteredModel: the named model a team registers versions of."""

from modelreg.entities.base import EntitySpec, Field, FieldType

MODEL_STATES = ("LIVE", "ARCHIVED")

REGISTERED_MODEL = EntitySpec(
    kind="registered_model",
    schema="RegisteredModel",
    label="registered model",
    table="registered_models",
    collection="registered_models",
    find_path="registered_model",
    archivable=True,
    fields=(
        Field("owner"),
        Field("state", FieldType.ENUM, enum=MODEL_STATES, default="LIVE"),
        Field("readme", FieldType.TEXT),
        Field("maturity"),
        Field("language", FieldType.STRING_LIST, filterable=False),
        Field("tasks", FieldType.STRING_LIST, filterable=False),
        Field("provider"),
        Field("logo", FieldType.TEXT),
        Field("license"),
        Field("licenseLink", FieldType.TEXT),
        Field("libraryName"),
    ),
)
