"""Drive the upstream `model-registry` client with a modelreg token (run with the Python of
a virtualenv that has `model-registry`; see test_upstream_token.py).

    python upstream_with_token.py <port> <token> <granted-registry> <other-registry> <label>

Prints one JSON object: what worked, and the error each refused connection raised.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

from model_registry import ModelRegistry


def connect(address: str, port: int, token: str) -> ModelRegistry:
    return ModelRegistry(address, port, author="client-author", is_secure=False, user_token=token)


def failure(address: str, port: int, token: str) -> dict[str, Any]:
    try:
        connect(address, port, token)
    except Exception as exc:
        return {"type": type(exc).__name__, "message": str(exc)}
    return {"type": None, "message": "connected"}


def main() -> None:
    port, token, granted, other, label = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    warnings.simplefilter("ignore")
    out: dict[str, Any] = {}
    # The default registry, at the plain paths.
    mr = connect("http://127.0.0.1", port, token)
    rm = mr.register_model(
        f"plain-{label}",
        "s3://bucket/plain",
        version="1.0",
        model_format_name="onnx",
        model_format_version="1",
        metadata={"where": "default"},
    )
    found = mr.get_registered_model(f"plain-{label}")
    out["default"] = {"id": rm.id, "found": found.id if found else None, "owner": getattr(rm, "owner", None)}
    # A registry under /registries/<name>: the prefix rides in the server address (with
    # its port in it: the client appends the port only to an address without one).
    prefixed = connect(f"http://127.0.0.1:{port}/registries/{granted}", port, token)
    rm = prefixed.register_model(
        f"prefixed-{label}",
        "s3://bucket/prefixed",
        version="2.0",
        model_format_name="onnx",
        model_format_version="1",
    )
    version = prefixed.get_model_version(f"prefixed-{label}", "2.0")
    out["prefixed"] = {"id": rm.id, "version": version.name if version else None}
    out["prefixed_sees_plain"] = prefixed.get_registered_model(f"plain-{label}") is not None
    # Refused: a registry without a grant, one that does not exist, and a bad token.
    out["no_grant"] = failure(f"http://127.0.0.1:{port}/registries/{other}", port, token)
    out["bad_token"] = failure("http://127.0.0.1", port, token[:-2] + "xx")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
