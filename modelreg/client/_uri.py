"""`model-registry://` URIs, read the way KServe's storage initializer reads them.

    model-registry://<model>
    model-registry://<model>/<version>
    model-registry://<host[:port]>/<model>
    model-registry://<host[:port]>/<model>/<version>
    ...?namespace=<ns>   (the registry service of that Kubernetes namespace)

The path splits on `/` into at most three parts. Three parts are host, model and
version. With two, the first is a host only if it is this client's own host or a
registry answers there; otherwise they are model and version (the caller decides, see
`_ops.resolve_target`). Empty parts are refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from modelreg.client._errors import InvalidRequest

SCHEME = "model-registry://"
_USAGE = "use model-registry://[host[:port]/]model[/version]"


@dataclass(frozen=True)
class RegistryURI:
    tokens: tuple[str, ...]  # one to three, none empty
    namespace: str | None

    @classmethod
    def parse(cls, uri: str) -> RegistryURI:
        if not uri.startswith(SCHEME):
            raise InvalidRequest(f"{uri!r} is not a model-registry:// URI; {_USAGE}")
        rest = uri[len(SCHEME) :]
        rest, _, query = rest.partition("?")
        tokens = tuple(rest.split("/", 2))
        if not rest or any(not t for t in tokens):
            raise InvalidRequest(f"invalid model registry URI {uri!r}; {_USAGE}")
        namespaces = parse_qs(query).get("namespace") or []
        return cls(tokens, namespaces[0] if namespaces else None)


def namespace_host(namespace: str, own_base: str) -> str:
    """The in-cluster address of a namespace's registry, as KServe builds it."""
    service = os.environ.get("MODEL_REGISTRY_SERVICE_NAME") or "model-registry-service"
    domain = os.environ.get("MODEL_REGISTRY_CLUSTER_DOMAIN") or "svc.cluster.local"
    port = urlsplit(own_base).port
    return f"{service}.{namespace}.{domain}" + (f":{port}" if port else "")
