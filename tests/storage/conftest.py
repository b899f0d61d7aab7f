"""An S3-compatible server for the storage tests: moto's standalone server, over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None:
                pytest.fail(f"moto server exited: {log.read_text()}")
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"moto server did not start: {log.read_text()}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_settings(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    import boto3

    bucket = f"models-{uuid.uuid4().hex[:8]}"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return Settings(
        data_dir=tmp_path,
        access_log=False,
        storage="s3",
        s3_bucket=bucket,
        s3_prefix="registry",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
    )


@pytest.fixture
def s3_client(s3_settings: Settings) -> Iterator[TestClient]:
    upgrade_schema(s3_settings)
    with TestClient(create_app(s3_settings), raise_server_exceptions=False) as c:
        yield c
