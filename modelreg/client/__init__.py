"""The Python client of modelreg: register a model in one line, pull exactly those bytes back.

    import modelreg

    registry = modelreg.Client("http://127.0.0.1:8080")
    v = registry.register_model("fraud-detector", "1.0.0", path="model/", model_format_name="onnx")
    registry.download("fraud-detector", "1.0.0", "pulled/")

`Client(url, token, registry="team-a")` talks to one of the server's registries; the
same client manages registries, grants and tokens (`create_registry`, `grant`,
`create_token`) and reads the history of every change (`history`, `model_history`).
`AsyncClient` has the same methods, awaited. Errors are `ModelregError`s, rebuilt from
the server's `{code, message}` bodies.
"""

from modelreg.client._async import AsyncClient, AsyncPager
from modelreg.client._errors import (
    ChecksumMismatch,
    Conflict,
    InvalidRequest,
    ModelregError,
    NotFound,
    PermissionDenied,
    ServerError,
    Unavailable,
)
from modelreg.client._models import (
    FileEntry,
    Grant,
    HistoryEvent,
    Identity,
    IssuedToken,
    Manifest,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
    Registry,
    Token,
    TransferProgress,
)
from modelreg.client._sync import Client, Pager

__all__ = [
    "AsyncClient",
    "AsyncPager",
    "ChecksumMismatch",
    "Client",
    "Conflict",
    "FileEntry",
    "Grant",
    "HistoryEvent",
    "Identity",
    "InvalidRequest",
    "IssuedToken",
    "Manifest",
    "ModelArtifact",
    "ModelVersion",
    "ModelregError",
    "NotFound",
    "Pager",
    "PermissionDenied",
    "RegisteredModel",
    "Registry",
    "ServerError",
    "Token",
    "TransferProgress",
    "Unavailable",
]
