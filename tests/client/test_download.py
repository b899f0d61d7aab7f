"""download: exactly the registered bytes back, each file verified while written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from modelreg.client import ChecksumMismatch, Client, Conflict, InvalidRequest, NotFound, TransferProgress
from tests.client.conftest import CountingTransport, Registry
from tests.client.test_register import model_dir


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_download_returns_exactly_the_registered_bytes(
    client: Client, transport: CountingTransport, tmp_path: Path
) -> None:
    src = model_dir(tmp_path / "src", bytes(range(256)) * 5000)
    client.register_model("fraud", "1", path=src)
    events: list[TransferProgress] = []
    manifest = client.download("fraud", "1", tmp_path / "out", progress=events.append)
    assert tree(tmp_path / "out") == tree(src)
    assert manifest.total_size == sum(len(b) for b in tree(src).values())
    assert events[-1].bytes_done == manifest.total_size and events[-1].files_done == 3

    # Files already there with the right bytes are kept; a damaged one is fetched again.
    (tmp_path / "out" / "tokenizer" / "vocab.txt").write_text("tampered")
    transport.requests.clear()
    client.download("fraud", "latest", tmp_path / "out")
    assert [p for m, p in transport.requests if "/files/" in p] == [
        f"/api/modelreg/v1/artifacts/{manifest.artifact_id}/files/tokenizer/vocab.txt"
    ]
    assert tree(tmp_path / "out") == tree(src)


def test_download_by_model_registry_uri(client: Client, tmp_path: Path) -> None:
    src = model_dir(tmp_path / "src")
    client.register_model("fraud", "1", path=src)
    client.download("model-registry://fraud/1", None, tmp_path / "out")
    assert tree(tmp_path / "out") == tree(src)
    with pytest.raises(InvalidRequest, match="not both"):
        client.download("model-registry://fraud/1", "1", tmp_path / "out")


class Corrupting(httpx.BaseTransport):
    """Flips the first byte of every file body the server sends."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "GET" or "/files/" not in request.url.path:
            return response
        body = bytearray(response.read())
        if body:
            body[0] ^= 0xFF
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))


def test_a_corrupted_file_is_deleted_and_raises(registry: Registry, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"good bytes" * 100)
    with Client(registry.url) as good:
        good.register_model("fraud", "1", path=src)
    out = tmp_path / "out"
    with Client(registry.url, transport=Corrupting()) as bad, pytest.raises(ChecksumMismatch) as err:
        bad.download("fraud", "1", out)
    assert "model.bin" in str(err.value) and "sha256" in str(err.value)
    assert not any(p.is_file() for p in out.rglob("*"))  # neither the file nor a .part


def _manifest_server(path: str) -> httpx.MockTransport:
    """A registry whose one version's manifest names `path`."""
    sha = hashlib.sha256(b"x").hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        p = request.url.path
        if p.endswith("/registered_model"):
            return httpx.Response(200, json={"id": "1", "name": "m"})
        if p.endswith("/model_version"):
            return httpx.Response(200, json={"id": "2", "name": "1", "registeredModelId": "1"})
        if p.endswith("/artifacts"):
            return httpx.Response(200, json={"items": [{"id": "3", "artifactType": "model-artifact"}]})
        if p.endswith("/manifest"):
            files = [{"path": path, "size": 1, "sha256": sha}]
            return httpx.Response(
                200, content=json.dumps({"artifactId": "3", "state": "LIVE", "files": files})
            )
        return httpx.Response(200, content=b"x", headers={"x-checksum-sha256": sha})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "a//b"])
def test_unsafe_paths_from_a_server_are_refused(path: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with Client("http://registry.test", transport=_manifest_server(path)) as c, pytest.raises(InvalidRequest):
        c.download("m", "1", out)
    assert list(tmp_path.rglob("*")) == []


def test_a_version_registered_by_uri_has_nothing_to_download(client: Client, tmp_path: Path) -> None:
    client.register_model("fraud", "1", uri="s3://models/fraud/1")
    with pytest.raises(NotFound, match="s3://models/fraud/1"):
        client.download("fraud", "1", tmp_path / "out")


def test_an_unfinished_upload_cannot_be_downloaded(
    client: Client, registry: Registry, tmp_path: Path
) -> None:
    client.register_model("fraud", "0", uri="s3://x")
    model = client.get_model("fraud")
    mv = httpx.post(
        f"{registry.url}/api/model_registry/v1/registered_models/{model.id}/versions", json={"name": "1"}
    )
    files = [{"path": "a", "size": 1, "sha256": hashlib.sha256(b"a").hexdigest()}]
    r = httpx.post(
        f"{registry.url}/api/modelreg/v1/model_versions/{mv.json()['id']}/uploads", json={"files": files}
    )
    assert r.status_code == 201
    with pytest.raises(Conflict, match="not complete"):
        client.download("fraud", "1", tmp_path / "out")
    assert client.get_manifest("fraud", "1").state == "PENDING"
