"""The Python client of modelreg: register a model in one line, pull exactly those bytes back.

    import modelreg

    registry = modelreg.Client("http://127.0.0.1:8080")
    v = registry.register_model("fraud-detector", "1.0.0", path="model/", model_format_name="onnx")
    registry.download("fraud-detector", "1.0.0", "pulled/")

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
    Manifest,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
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
    "InvalidRequest",
    "Manifest",
    "ModelArtifact",
    "ModelVersion",
    "ModelregError",
    "NotFound",
    "Pager",
    "PermissionDenied",
    "RegisteredModel",
    "ServerError",
    "TransferProgress",
    "Unavailable",
]
