"""modelreg: a model registry that speaks the Kubeflow Model Registry REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from modelreg.client import AsyncClient, Client

# The clients load on first use, so `modelreg serve` does not pay for them at start-up.
_CLIENT_NAMES = ("AsyncClient", "Client")


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from modelreg import client

        return getattr(client, name)
    raise AttributeError(f"module 'modelreg' has no attribute {name!r}")


__all__ = ["AsyncClient", "Client", "__version__"]
