"""The client's public surface: exactly these names, sorted, and reachable from `modelreg`."""

from __future__ import annotations

import modelreg
import modelreg.client

PUBLIC = [
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


def test_all_is_exactly_the_public_names_sorted() -> None:
    assert modelreg.client.__all__ == PUBLIC
    assert sorted(modelreg.client.__all__) == modelreg.client.__all__
    for name in PUBLIC:
        assert getattr(modelreg.client, name).__module__.startswith("modelreg.client._")


def test_the_clients_are_reachable_from_the_package() -> None:
    assert modelreg.Client is modelreg.client.Client
    assert modelreg.AsyncClient is modelreg.client.AsyncClient


def test_errors_form_one_tree() -> None:
    from modelreg.client import ModelregError

    for name in PUBLIC:
        obj = getattr(modelreg.client, name)
        if name.endswith(("Error", "Found", "Denied", "Request", "Unavailable", "Conflict", "Mismatch")):
            assert issubclass(obj, ModelregError), name


def test_importing_the_package_or_the_cli_does_not_load_the_client() -> None:
    """`modelreg serve` starts fast: neither `import modelreg` nor the CLI loads httpx."""
    import subprocess
    import sys

    code = (
        "import sys, modelreg, modelreg.cli; "
        "assert 'modelreg.client' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
