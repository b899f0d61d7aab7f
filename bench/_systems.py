"""The same catalog and the same operations, in each system's own REST API.

| operation | modelreg (Kubeflow Model Registry API v1) | MLflow (registry REST API 2.0) |
| --- | --- | --- |
| register | POST /registered_models, POST /registered_models/{id}/versions, POST /model_versions/{id}/artifacts (3 requests) | POST registered-models/create, POST model-versions/create with `source` = the artifact URI (2 requests: an MLflow version holds its artifact's URI itself) |
| get by id | GET /model_versions/{id} | GET model-versions/get?name=&version= (its key) |
| find by name | GET /registered_model?name= | GET registered-models/get?name= |
| list page | GET /registered_models?pageSize=100&nextPageToken= | GET registered-models/search?max_results=100&page_token= |
| filtered page | GET /model_versions?filterQuery=team='team-3'&pageSize=100 | GET model-versions/search?filter=tags.team='team-3'&max_results=100 |

Custom properties are MLflow tags (strings; `accuracy` travels as text there). One
"register" operation makes a model, one version and its artifact in both systems; its
latency is the whole sequence.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

import httpx

from bench._rawhttp import RawClient

__all__ = [
    "SYSTEMS",
    "Conn",
    "Floor",
    "MLflow",
    "ModelSpec",
    "Modelreg",
    "RequestFailed",
    "System",
    "VersionSpec",
    "catalog",
]

V1 = "/api/model_registry/v1"
ML = "/api/2.0/mlflow"
PAGE_SIZE = 100
TEAMS = 10  # `team` takes 10 values: a filter on one matches a tenth of the versions
DATASETS = 1000  # `dataset` takes 1,000: a filter on one matches a thousandth


class RequestFailed(Exception):
    """A request answered with an error status."""


@dataclass(frozen=True)
class VersionSpec:
    name: str
    uri: str
    team: str
    dataset: str
    accuracy: float


@dataclass(frozen=True)
class ModelSpec:
    name: str
    team: str
    versions: tuple[VersionSpec, ...]


def version_props(i: int) -> tuple[str, str, float]:
    """The custom properties of the catalog's i-th version: team, dataset, accuracy."""
    return f"team-{i % TEAMS}", f"ds-{i % DATASETS:04d}", round(0.5 + (i * 7919 % 5000) / 10000, 4)


def catalog(models: int, versions: int, prefix: str = "bench-model") -> list[ModelSpec]:
    """The catalog both systems are filled with: names and properties from the index alone."""
    out = []
    for m in range(models):
        name = f"{prefix}-{m:06d}"
        vs = []
        for v in range(versions):
            team, dataset, accuracy = version_props(m * versions + v)
            vs.append(VersionSpec(f"v{v + 1}", f"s3://bench/{name}/v{v + 1}", team, dataset, accuracy))
        out.append(ModelSpec(name, f"team-{m % TEAMS}", tuple(vs)))
    return out


class Conn:
    """One client with one keep-alive HTTP/1.1 connection; times each request it sends."""

    def __init__(self, base_url: str, *, nodelay: bool = True, client: str = "httpx") -> None:
        self.client: Any
        if client == "raw":
            self.client = RawClient(base_url)
        elif client == "aiohttp":
            from bench._aiohttp import AiohttpClient

            self.client = AiohttpClient(base_url)
        else:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=None)
            self.client = httpx.AsyncClient(
                base_url=base_url,
                http1=True,
                http2=False,
                limits=limits,
                timeout=120,
                transport=httpx.AsyncHTTPTransport(http1=True, http2=False, limits=limits, retries=0),
            )
        self.nodelay = nodelay
        self.latencies: list[float] = []  # every request's, for the stall check
        self.connections = 0  # every connection a request went on, the server's reconnects too
        self.sockets_checked = 0
        self.sockets_without_nodelay = 0  # as connected, before the setting below
        self._seen: set[int] = set()

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        started = perf_counter()
        response = await self.client.request(method, url, **kw)
        self.latencies.append(perf_counter() - started)
        stream = response.extensions.get("network_stream")
        if stream is not None and id(stream) not in self._seen:
            self._check_socket(stream)
        if response.status_code >= 400:
            raise RequestFailed(f"{method} {url} -> {response.status_code} {response.text[:300]}")
        return response

    def _check_socket(self, stream: Any) -> None:
        self._seen.add(id(stream))
        self.connections += 1
        sock = stream.get_extra_info("socket")
        if sock is None:
            return
        try:
            on = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        except (OSError, ValueError):
            # Closed already: the server asked for a new connection in its first answer
            # (modelreg's workers spreading their connections), so it carries no more.
            return
        self.sockets_checked += 1
        if not on:
            self.sockets_without_nodelay += 1
        if on != self.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(self.nodelay))

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class WalkState:
    """Where one worker is in its walk of the catalog."""

    token: str = ""
    pages: int = 0
    walks: int = 0


class System(Protocol):
    name: str
    base_url: str
    scenarios: tuple[str, ...]

    async def register(self, conn: Conn, model: ModelSpec) -> None: ...
    async def get(self, conn: Conn, rng: random.Random) -> int: ...
    async def find(self, conn: Conn, rng: random.Random) -> int: ...
    async def page(self, conn: Conn, state: WalkState) -> int: ...
    async def filter(self, conn: Conn, rng: random.Random) -> int: ...


ALL = ("get", "find", "page", "filter", "register", "mix")


@dataclass
class Modelreg:
    base_url: str
    name: str = "modelreg"
    scenarios: tuple[str, ...] = ALL
    filter_query: str = "team = 'team-3'"
    filter_params: dict[str, str] = field(default_factory=dict)  # e.g. orderBy, sortOrder
    model_names: list[str] = field(default_factory=list)
    version_ids: list[str] = field(default_factory=list)

    async def register(self, conn: Conn, model: ModelSpec) -> None:
        body = {"name": model.name, "owner": "bench", "customProperties": {"team": _str(model.team)}}
        rm = (await conn.request("POST", f"{V1}/registered_models", json=body)).json()
        for v in model.versions:
            props = {"team": _str(v.team), "dataset": _str(v.dataset), "accuracy": _double(v.accuracy)}
            body = {"name": v.name, "author": "bench", "customProperties": props}
            mv = (await conn.request("POST", f"{V1}/registered_models/{rm['id']}/versions", json=body)).json()
            art = {
                "artifactType": "model-artifact",
                "name": model.name,
                "uri": v.uri,
                "modelFormatName": "onnx",
                "modelFormatVersion": "1",
            }
            await conn.request("POST", f"{V1}/model_versions/{mv['id']}/artifacts", json=art)
            self.version_ids.append(mv["id"])
        self.model_names.append(model.name)

    async def get(self, conn: Conn, rng: random.Random) -> int:
        await conn.request("GET", f"{V1}/model_versions/{rng.choice(self.version_ids)}")
        return 1

    async def find(self, conn: Conn, rng: random.Random) -> int:
        await conn.request("GET", f"{V1}/registered_model", params={"name": rng.choice(self.model_names)})
        return 1

    async def page(self, conn: Conn, state: WalkState) -> int:
        params = {"pageSize": str(PAGE_SIZE), "nextPageToken": state.token}
        data = (await conn.request("GET", f"{V1}/registered_models", params=params)).json()
        return _advance(state, data["nextPageToken"], data["items"])

    async def filter(self, conn: Conn, rng: random.Random) -> int:
        params = {"filterQuery": self.filter_query, "pageSize": str(PAGE_SIZE), **self.filter_params}
        return len((await conn.request("GET", f"{V1}/model_versions", params=params)).json()["items"])


@dataclass
class MLflow:
    base_url: str
    name: str = "mlflow"
    scenarios: tuple[str, ...] = ALL
    filter_query: str = "tags.team = 'team-3'"
    model_names: list[str] = field(default_factory=list)
    versions: list[tuple[str, str]] = field(default_factory=list)

    async def register(self, conn: Conn, model: ModelSpec) -> None:
        body = {"name": model.name, "tags": [{"key": "team", "value": model.team}]}
        await conn.request("POST", f"{ML}/registered-models/create", json=body)
        for v in model.versions:
            tags = [
                {"key": "team", "value": v.team},
                {"key": "dataset", "value": v.dataset},
                {"key": "accuracy", "value": str(v.accuracy)},
            ]
            body = {"name": model.name, "source": v.uri, "tags": tags}
            mv = (await conn.request("POST", f"{ML}/model-versions/create", json=body)).json()
            self.versions.append((model.name, mv["model_version"]["version"]))
        self.model_names.append(model.name)

    async def get(self, conn: Conn, rng: random.Random) -> int:
        name, version = rng.choice(self.versions)
        await conn.request("GET", f"{ML}/model-versions/get", params={"name": name, "version": version})
        return 1

    async def find(self, conn: Conn, rng: random.Random) -> int:
        await conn.request(
            "GET", f"{ML}/registered-models/get", params={"name": rng.choice(self.model_names)}
        )
        return 1

    async def page(self, conn: Conn, state: WalkState) -> int:
        params = {"max_results": str(PAGE_SIZE)}
        if state.token:
            params["page_token"] = state.token
        data = (await conn.request("GET", f"{ML}/registered-models/search", params=params)).json()
        return _advance(state, data.get("next_page_token", ""), data.get("registered_models", []))

    async def filter(self, conn: Conn, rng: random.Random) -> int:
        params = {"filter": self.filter_query, "max_results": str(PAGE_SIZE)}
        data = (await conn.request("GET", f"{ML}/model-versions/search", params=params)).json()
        return len(data.get("model_versions", []))


@dataclass
class Floor:
    """The bare ASGI endpoint: only "get" means anything here."""

    base_url: str
    name: str = "floor"
    scenarios: tuple[str, ...] = ("get",)

    async def register(self, conn: Conn, model: ModelSpec) -> None:
        raise NotImplementedError

    async def get(self, conn: Conn, rng: random.Random) -> int:
        await conn.request("GET", "/")
        return 1

    async def find(self, conn: Conn, rng: random.Random) -> int:
        raise NotImplementedError

    async def page(self, conn: Conn, state: WalkState) -> int:
        raise NotImplementedError

    async def filter(self, conn: Conn, rng: random.Random) -> int:
        raise NotImplementedError


@dataclass
class FloorWithQuery(Floor):
    """The floor plus modelreg's get statement (bench._floor): only "get" here too."""

    name: str = "floor-pg"


SYSTEMS = {"modelreg": Modelreg, "mlflow": MLflow, "floor": Floor, "floor-pg": FloorWithQuery}


def _advance(state: WalkState, token: str, items: list[Any]) -> int:
    state.pages += 1
    state.token = token or ""
    if not state.token:
        state.walks += 1
    return len(items)


def _str(value: str) -> dict[str, str]:
    return {"metadataType": "MetadataStringValue", "string_value": value}


def _double(value: float) -> dict[str, Any]:
    return {"metadataType": "MetadataDoubleValue", "double_value": value}
