"""Uploading a model's files and getting exactly those bytes back (docs/storage-api.md)."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from modelreg.settings import Settings
from tests.conftest import V1

S = "/api/modelreg/v1"


def manifest_of(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in files.items()]


def new_version(client: TestClient, model: str = "m", version: str = "1") -> str:
    found = client.get(f"{V1}/registered_model", params={"name": model})
    mid = found.json()["id"] if found.status_code == 200 else None
    if mid is None:
        mid = client.post(f"{V1}/registered_models", json={"name": model}).json()["id"]
    r = client.post(f"{V1}/registered_models/{mid}/versions", json={"name": version})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def upload(client: TestClient, version_id: str, files: dict[str, bytes], **extra: Any) -> dict[str, Any]:
    r = client.post(f"{S}/model_versions/{version_id}/uploads", json={"files": manifest_of(files), **extra})
    assert r.status_code in (200, 201), r.text
    started = r.json()
    for path in started["missing"]:
        put = client.put(f"{S}/artifacts/{started['artifactId']}/files/{path}", content=files[path])
        assert put.status_code == 200, put.text
    done = client.post(f"{S}/artifacts/{started['artifactId']}/complete")
    assert done.status_code == 200, done.text
    return {**done.json(), "_started": started}


FILES = {
    "model.onnx": os.urandom(300_000),
    "config/params.json": b'{"layers": 12}',
    "empty.txt": b"",
}


def test_round_trip(client: TestClient) -> None:
    vid = new_version(client)
    artifact = upload(client, vid, FILES, modelFormatName="onnx", modelFormatVersion="1")
    assert artifact["_started"]["missing"] == sorted(FILES)
    assert artifact["state"] == "LIVE"
    assert artifact["uri"].endswith(f"/artifacts/{artifact['id']}/")
    assert artifact["modelFormatName"] == "onnx"
    assert artifact["name"] == "m"  # named after the model, as the upstream client does
    props = artifact["customProperties"]
    assert props["modelreg.total_size"]["string_value"] == str(sum(len(b) for b in FILES.values()))
    assert props["modelreg.file_count"]["int_value"] == "3"

    manifest = client.get(f"{S}/artifacts/{artifact['id']}/manifest").json()
    assert manifest["state"] == "LIVE"
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == {
        f["path"]: f["sha256"] for f in manifest_of(FILES)
    }
    for path, data in FILES.items():
        r = client.get(f"{S}/artifacts/{artifact['id']}/files/{path}")
        assert r.status_code == 200
        assert r.content == data
        assert r.headers["x-checksum-sha256"] == hashlib.sha256(data).hexdigest()
    # The Kubeflow API sees an ordinary model artifact of the version.
    listed = client.get(f"{V1}/model_versions/{vid}/artifacts").json()["items"]
    assert [a["id"] for a in listed] == [artifact["id"]]


def test_same_files_again_is_idempotent_and_different_files_conflict(client: TestClient) -> None:
    vid = new_version(client)
    first = upload(client, vid, FILES)
    again = client.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of(FILES)})
    assert again.status_code == 200
    assert again.json() == {"artifactId": first["id"], "state": "LIVE", "missing": []}
    changed = {**FILES, "model.onnx": b"other bytes"}
    r = client.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of(changed)})
    assert r.status_code == 409
    assert "register a new version" in r.json()["message"]


def test_interrupted_upload_is_never_live_and_resumes(client: TestClient) -> None:
    vid = new_version(client)
    start = client.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of(FILES)}).json()
    aid = start["artifactId"]
    assert client.put(f"{S}/artifacts/{aid}/files/model.onnx", content=FILES["model.onnx"]).status_code == 200
    # Half a file: refused, and not kept.
    half = client.put(f"{S}/artifacts/{aid}/files/config/params.json", content=b'{"lay')
    assert half.status_code == 400
    assert client.get(f"{V1}/artifacts/{aid}").json()["state"] == "PENDING"
    assert client.post(f"{S}/artifacts/{aid}/complete").status_code == 409
    assert client.get(f"{S}/artifacts/{aid}/files/model.onnx").status_code == 409
    # Declaring the same files again resumes: only what is missing is asked for.
    resumed = client.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of(FILES)})
    assert resumed.status_code == 200
    assert resumed.json() == {
        "artifactId": aid,
        "state": "PENDING",
        "missing": ["config/params.json", "empty.txt"],
    }
    done = upload(client, vid, FILES)
    assert done["id"] == aid and done["state"] == "LIVE"


def test_a_different_unfinished_upload_is_replaced(client: TestClient, settings: Settings) -> None:
    vid = new_version(client)
    old = client.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of({"a": b"1"})}).json()
    client.put(f"{S}/artifacts/{old['artifactId']}/files/a", content=b"1")
    new = upload(client, vid, FILES)
    assert new["id"] != old["artifactId"]
    assert client.get(f"{V1}/artifacts/{old['artifactId']}").status_code == 404
    if settings.storage == "local":
        assert not (settings.resolved_storage_path() / "artifacts" / old["artifactId"]).exists()


@pytest.mark.parametrize(
    ("path", "status"),
    [("../escape", 400), ("/abs", 400), ("a//b", 400), ("./a", 400), ("a\\b", 400), ("x" * 600, 400)],
)
def test_bad_paths_are_refused(client: TestClient, path: str, status: int) -> None:
    vid = new_version(client)
    files = [{"path": path, "size": 1, "sha256": "0" * 64}]
    r = client.post(f"{S}/model_versions/{vid}/uploads", json={"files": files})
    assert r.status_code == status, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"files": []},
        {"files": [{"path": "a", "size": -1, "sha256": "0" * 64}]},
        {"files": [{"path": "a", "size": 1, "sha256": "XYZ"}]},
        {"files": [{"path": "a", "size": "1", "sha256": "0" * 64}]},
        {"files": [{"path": "a", "size": 1, "sha256": "0" * 64}] * 2},
        {"files": [{"path": "a", "size": 1, "sha256": "0" * 64}], "bogus": 1},
        {},
    ],
)
def test_bad_manifests_are_refused(client: TestClient, body: dict[str, Any]) -> None:
    vid = new_version(client)
    r = client.post(f"{S}/model_versions/{vid}/uploads", json=body)
    assert r.status_code in (400, 422), r.text
    assert client.get(f"{V1}/model_versions/{vid}/artifacts").json()["size"] == 0


def test_unknown_things(client: TestClient) -> None:
    assert (
        client.post(f"{S}/model_versions/999/uploads", json={"files": manifest_of(FILES)}).status_code == 404
    )
    vid = new_version(client)
    aid = upload(client, vid, FILES)["id"]
    assert client.get(f"{S}/artifacts/{aid}/files/nope").status_code == 404
    assert client.put(f"{S}/artifacts/{aid}/files/model.onnx", content=b"x").status_code == 409
    plain = client.post(
        f"{V1}/model_versions/{vid}/artifacts",
        json={"artifactType": "doc-artifact", "name": "readme", "uri": "https://x/readme"},
    ).json()
    r = client.get(f"{S}/artifacts/{plain['id']}/manifest")
    assert r.status_code == 404
    assert "https://x/readme" in r.json()["message"]


def test_deleting_removes_the_stored_bytes(client: TestClient, settings: Settings) -> None:
    vid = new_version(client)
    aid = upload(client, vid, FILES)["id"]
    stored = settings.resolved_storage_path() / "artifacts" / aid
    if settings.storage == "local":
        assert (stored / "model.onnx").read_bytes() == FILES["model.onnx"]
    mid = client.get(f"{V1}/model_versions/{vid}").json()["registeredModelId"]
    assert client.delete(f"{V1}/registered_models/{mid}").status_code == 204
    assert client.get(f"{S}/artifacts/{aid}/manifest").status_code == 404
    if settings.storage == "local":
        assert not stored.exists()


def test_file_bodies_are_not_held_to_the_json_body_limit(tmp_path: Path) -> None:
    from modelreg.api.app import create_app
    from modelreg.service.registry import upgrade_schema

    s = Settings(data_dir=tmp_path, max_body_bytes=1024, access_log=False)
    upgrade_schema(s)
    with TestClient(create_app(s)) as c:
        data = {"big.bin": os.urandom(200_000)}
        assert upload(c, new_version(c), data)["state"] == "LIVE"


def test_s3_round_trip(s3_client: TestClient, s3_settings: Settings) -> None:
    import boto3

    data = {**FILES, "weights.bin": os.urandom(9 * 1024 * 1024 + 123)}  # two multipart parts
    vid = new_version(s3_client)
    artifact = upload(s3_client, vid, data)
    assert artifact["uri"].startswith(f"s3://{s3_settings.s3_bucket}/registry/artifacts/{artifact['id']}/")
    assert "endpoint=" in artifact["uri"]
    for path, blob in data.items():
        assert s3_client.get(f"{S}/artifacts/{artifact['id']}/files/{path}").content == blob
    s3 = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url, region_name="us-east-1")
    key = f"registry/artifacts/{artifact['id']}/weights.bin"
    assert s3.head_object(Bucket=s3_settings.s3_bucket, Key=key)["ContentLength"] == len(data["weights.bin"])
    # A refused file leaves no object and no dangling multipart upload behind.
    vid2 = new_version(s3_client, version="2")
    start = s3_client.post(f"{S}/model_versions/{vid2}/uploads", json={"files": manifest_of(data)}).json()
    wrong = os.urandom(len(data["weights.bin"]))
    r = s3_client.put(f"{S}/artifacts/{start['artifactId']}/files/weights.bin", content=wrong)
    assert r.status_code == 400
    assert s3.list_multipart_uploads(Bucket=s3_settings.s3_bucket).get("Uploads", []) == []
    mid = s3_client.get(f"{V1}/model_versions/{vid}").json()["registeredModelId"]
    s3_client.patch(f"{V1}/model_versions/{vid2}", json={"state": "ARCHIVED"})
    assert s3_client.delete(f"{V1}/registered_models/{mid}").status_code == 204
    left = s3.list_objects_v2(Bucket=s3_settings.s3_bucket, Prefix="registry/").get("Contents", [])
    assert left == []


def test_client_that_vanishes_mid_file_leaves_a_pending_upload(tmp_path: Path) -> None:
    """A real socket, cut half-way through a file: nothing LIVE, and a retry completes."""
    import threading

    import uvicorn

    from modelreg.api.app import create_app
    from modelreg.service.registry import upgrade_schema

    s = Settings(data_dir=tmp_path, access_log=False)
    upgrade_schema(s)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(s), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/livez")
                break
            except httpx.TransportError:
                import time

                time.sleep(0.05)
        with httpx.Client(base_url=base) as c:
            mid = c.post(f"{V1}/registered_models", json={"name": "m"}).json()["id"]
            vid = c.post(f"{V1}/registered_models/{mid}/versions", json={"name": "1"}).json()["id"]
            data = {"w.bin": os.urandom(4 * 1024 * 1024)}
            aid = c.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of(data)}).json()[
                "artifactId"
            ]
            with socket.create_connection(("127.0.0.1", port)) as raw:
                head = (
                    f"PUT {S}/artifacts/{aid}/files/w.bin HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Length: {len(data['w.bin'])}\r\n\r\n"
                ).encode()
                raw.sendall(head + data["w.bin"][: 2 * 1024 * 1024])
            import time

            parts = tmp_path / "artifacts" / aid
            deadline = time.monotonic() + 10
            while not list(parts.glob(".*part*")) and time.monotonic() < deadline:
                time.sleep(0.02)  # the server has begun writing the file
            while list(parts.glob(".*part*")) and time.monotonic() < deadline:
                time.sleep(0.02)  # ... and, noticing the disconnect, dropped it
            assert c.get(f"{V1}/artifacts/{aid}").json()["state"] == "PENDING"
            assert not (tmp_path / "artifacts" / aid / "w.bin").exists()
            assert list((tmp_path / "artifacts" / aid).glob(".*part*")) == []
            again = c.post(f"{S}/model_versions/{vid}/uploads", json={"files": manifest_of(data)}).json()
            assert again["missing"] == ["w.bin"]
            assert c.put(f"{S}/artifacts/{aid}/files/w.bin", content=data["w.bin"]).status_code == 200
            assert c.post(f"{S}/artifacts/{aid}/complete").json()["state"] == "LIVE"
            assert c.get(f"{S}/artifacts/{aid}/files/w.bin").content == data["w.bin"]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
