"""AsyncClient: the same operations, awaited, against the app in-process (ASGITransport)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from modelreg.client import (
    AsyncClient,
    ChecksumMismatch,
    Conflict,
    NotFound,
    PermissionDenied,
    TransferProgress,
)
from tests.client.test_download import tree
from tests.client.test_register import model_dir

pytestmark = pytest.mark.anyio


async def test_models_and_versions(aclient: AsyncClient) -> None:
    m = await aclient.create_model("fraud", owner="ana", metadata={"team": "risk"}, labels=["prod"])
    assert (m.owner, m.metadata, m.labels) == ("ana", {"team": "risk"}, ["prod"])
    assert await aclient.get_model("fraud") == m
    for i in range(5):
        await aclient.register_model(
            "fraud", f"1.{i}", uri=f"s3://fraud/1.{i}", metadata={"auc": 0.9 + i / 100}
        )
    names = [v.name async for v in aclient.list_versions("fraud", page_size=2)]
    assert names == [f"1.{i}" for i in range(5)]
    assert [v.name for v in await aclient.list_versions("fraud", filter="auc > 0.925").to_list()] == [
        "1.3",
        "1.4",
    ]
    assert (await aclient.get_version("fraud")).name == "1.4"
    first = await aclient.list_models().first()
    assert first is not None and first.name == "fraud"
    updated = await aclient.update_version("fraud", "1.0", metadata={"auc": None, "f1": 0.5}, labels=["x"])
    assert (updated.metadata, updated.labels) == ({"f1": 0.5}, ["x"])
    assert (await aclient.archive("fraud", "1.0")).state == "ARCHIVED"
    assert (await aclient.restore("fraud", "1.0")).state == "LIVE"
    assert (await aclient.get_artifact("fraud", "1.2")).uri == "s3://fraud/1.2"
    assert await aclient.resolve("model-registry://registry.test/fraud/1.1") == "s3://fraud/1.1"
    assert await aclient.resolve("model-registry://fraud") == "s3://fraud/1.4"
    await aclient.delete("fraud", "1.0")
    await aclient.delete("fraud")
    with pytest.raises(NotFound):
        await aclient.get_model("fraud")


async def test_register_files_twice_then_download(aclient: AsyncClient, tmp_path: Path) -> None:
    src = model_dir(tmp_path / "src")
    events: list[TransferProgress] = []
    v = await aclient.register_model("fraud", "1", path=src, progress=events.append)
    assert events and events[-1].bytes_done == events[-1].bytes_total
    events.clear()
    again = await aclient.register_model("fraud", "1", path=src, progress=events.append)
    assert again.id == v.id and events == []
    with pytest.raises(Conflict):
        await aclient.register_model("fraud", "1", path=model_dir(tmp_path / "other", b"different"))
    manifest = await aclient.download("fraud", "1", tmp_path / "out")
    assert tree(tmp_path / "out") == tree(src)
    assert manifest == await aclient.get_manifest("fraud", "1")


async def test_a_corrupted_download_is_deleted(
    aclient: AsyncClient, asgi_app: FastAPI, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"good" * 1000)
    await aclient.register_model("fraud", "1", path=src)
    inner = httpx.ASGITransport(app=asgi_app)  # wrapped to flip a byte of each file

    class Corrupting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await inner.handle_async_request(request)
            if "/files/" not in request.url.path:
                return response
            body = bytearray(await response.aread())
            body[-1] ^= 1
            return httpx.Response(response.status_code, headers=response.headers, content=bytes(body))

    async with AsyncClient("http://registry.test", transport=Corrupting()) as bad:
        with pytest.raises(ChecksumMismatch):
            await bad.download("fraud", "1", tmp_path / "out")
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


async def test_a_wrong_token_is_permission_denied() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"code": "Forbidden", "message": "token not accepted"})

    async with AsyncClient("http://registry.test", token="t", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(PermissionDenied, match="token not accepted"):
            await c.get_model("fraud")
