"""An S3-compatible server for the storage tests: moto's standalone server, over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings


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
