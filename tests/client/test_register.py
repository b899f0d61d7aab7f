"""register_model: one call creates or reuses the model, creates the version and its
artifact; the same call again is a no-op; different content under a version is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from modelreg.client import Client, Conflict, InvalidRequest, TransferProgress
from tests.client.conftest import CountingTransport, Registry

STORE = "/api/modelreg/v1"
V1 = "/api/model_registry/v1"


def model_dir(root: Path, content: bytes = b"weights" * 1000) -> Path:
    d = root / "model"
    (d / "tokenizer").mkdir(parents=True, exist_ok=True)
    (d / "model.onnx").write_bytes(content)
    (d / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    (d / "empty.txt").write_bytes(b"")
    return d


def test_register_by_uri_creates_model_version_and_artifact(client: Client) -> None:
    v = client.register_model(
        "fraud",
        "1.0.0",
        uri="s3://models/fraud/1.0.0",
        model_format_name="onnx",
        model_format_version="1",
        description="card fraud",
        version_description="first",
        metadata={"auc": 0.93},
        labels=["candidate"],
        author="ana",
    )
    assert (v.name, v.description, v.author, v.metadata, v.labels) == (
        "1.0.0",
        "first",
        "ana",
        {"auc": 0.93},
        ["candidate"],
    )
    m = client.get_model("fraud")
    assert (m.description, m.owner) == ("card fraud", "ana")  # owner defaults to the author
    assert client.get_artifact("fraud", "1.0.0").uri == "s3://models/fraud/1.0.0"


def test_register_by_uri_twice_returns_the_version_and_a_new_uri_conflicts(client: Client) -> None:
    first = client.register_model("fraud", "1", uri="s3://a")
    again = client.register_model("fraud", "1", uri="s3://a")
    assert again.id == first.id
    with pytest.raises(Conflict, match="different content"):
        client.register_model("fraud", "1", uri="s3://b")
    client.register_model("fraud", "2", uri="s3://b")  # the existing model is reused
    assert [v.name for v in client.list_versions("fraud")] == ["1", "2"]


def test_register_files_twice_uploads_them_once(
    client: Client, registry: Registry, transport: CountingTransport, tmp_path: Path
) -> None:
    src = model_dir(tmp_path)
    events: list[TransferProgress] = []
    first = client.register_model(
        "fraud", "1.0.0", path=src, model_format_name="onnx", progress=events.append
    )
    assert transport.count("PUT") == 3
    assert events[-1].bytes_done == events[-1].bytes_total == 7000 + 4
    assert events[-1].files_done == events[-1].files_total == 3
    manifest = client.get_manifest("fraud", "1.0.0")
    assert manifest.state == "LIVE"
    assert {f.path: f.sha256 for f in manifest.files} == {
        "empty.txt": hashlib.sha256(b"").hexdigest(),
        "model.onnx": hashlib.sha256(b"weights" * 1000).hexdigest(),
        "tokenizer/vocab.txt": hashlib.sha256(b"a\nb\n").hexdigest(),
    }
    assert client.get_artifact("fraud", "1.0.0").uri == manifest.uri

    transport.requests.clear()
    events.clear()
    again = client.register_model(
        "fraud", "1.0.0", path=src, model_format_name="onnx", progress=events.append
    )
    assert again.id == first.id
    assert transport.count("PUT") == 0 and events == []
    assert transport.count("POST", "/complete") == 0
    assert client.get_manifest("fraud", "1.0.0") == manifest
    artifacts = httpx.get(f"{registry.url}{V1}/model_versions/{first.id}/artifacts").json()
    assert artifacts["size"] == 1


def test_different_files_under_the_same_version_conflict(client: Client, tmp_path: Path) -> None:
    client.register_model("fraud", "1", path=model_dir(tmp_path / "a"))
    with pytest.raises(Conflict):
        client.register_model("fraud", "1", path=model_dir(tmp_path / "b", b"other weights"))
    client.register_model("fraud", "2", path=model_dir(tmp_path / "b", b"other weights"))


def test_files_under_a_version_registered_by_uri_conflict_and_leave_nothing_behind(
    client: Client, registry: Registry, tmp_path: Path
) -> None:
    v = client.register_model("fraud", "1", uri="s3://a")
    with pytest.raises(Conflict, match="different content"):
        client.register_model("fraud", "1", path=model_dir(tmp_path))
    artifacts = httpx.get(f"{registry.url}{V1}/model_versions/{v.id}/artifacts").json()["items"]
    assert [a["uri"] for a in artifacts] == ["s3://a"]


def test_an_interrupted_upload_resumes_with_the_missing_files(
    client: Client, registry: Registry, transport: CountingTransport, tmp_path: Path
) -> None:
    src = model_dir(tmp_path)
    # Someone declared the same files and sent one of them, then stopped.
    v = client.register_model("fraud", "0", uri="s3://unrelated")  # creates the model
    mv = httpx.post(f"{registry.url}{V1}/registered_models/{v.model_id}/versions", json={"name": "1"}).json()
    files = [
        {"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
        for p, b in (
            ("empty.txt", b""),
            ("model.onnx", b"weights" * 1000),
            ("tokenizer/vocab.txt", b"a\nb\n"),
        )
    ]
    started = httpx.post(f"{registry.url}{STORE}/model_versions/{mv['id']}/uploads", json={"files": files})
    assert started.status_code == 201, started.text
    aid = started.json()["artifactId"]
    put = httpx.put(f"{registry.url}{STORE}/artifacts/{aid}/files/model.onnx", content=b"weights" * 1000)
    assert put.status_code == 200, put.text

    transport.requests.clear()
    client.register_model("fraud", "1", path=src)
    assert sorted(p for m, p in transport.requests if m == "PUT") == [
        f"{STORE}/artifacts/{aid}/files/empty.txt",
        f"{STORE}/artifacts/{aid}/files/tokenizer/vocab.txt",
    ]
    assert client.get_manifest("fraud", "1").state == "LIVE"


def test_a_single_file_registers_under_its_name(client: Client, tmp_path: Path) -> None:
    f = tmp_path / "model.pt"
    f.write_bytes(b"\x00" * 10)
    client.register_model("torch", "1", path=f)
    assert [e.path for e in client.get_manifest("torch", "1").files] == ["model.pt"]


def test_register_needs_exactly_one_source(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="exactly one"):
        client.register_model("m", "1")
    with pytest.raises(InvalidRequest, match="exactly one"):
        client.register_model("m", "1", uri="s3://x", path=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequest, match="holds no files"):
        client.register_model("m", "1", path=tmp_path / "empty")
    with pytest.raises(InvalidRequest, match="does not exist"):
        client.register_model("m", "1", path=tmp_path / "nope")


def test_a_registration_that_stopped_before_its_artifact_is_finished(
    client: Client, registry: Registry
) -> None:
    m = client.create_model("fraud")
    httpx.post(f"{registry.url}{V1}/registered_models/{m.id}/versions", json={"name": "1"})
    v = client.register_model("fraud", "1", uri="s3://a")
    assert client.get_artifact("fraud", v).uri == "s3://a"
