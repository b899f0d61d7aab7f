"""Files in S3-compatible object storage (AWS S3, MinIO, Ceph...), through boto3.

Writes go up as multipart uploads in 8 MiB parts once a file outgrows one part, so memory
holds at most one part per upload; an aborted write aborts its multipart upload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from modelreg.store.files.base import CHUNK

PART_SIZE = 8 * 1024 * 1024


class _S3Writer:
    def __init__(self, store: S3FileStore, key: str) -> None:
        self.s3 = store.client
        self.bucket = store.bucket
        self.key = store.full_key(key)
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _upload_part(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        answer = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= PART_SIZE:
            part = bytes(self.buffer[:PART_SIZE])
            del self.buffer[:PART_SIZE]
            self._upload_part(part)

    def commit(self) -> None:
        if self.upload_id is None:
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
            self.buffer.clear()
            return
        if self.buffer:
            self._upload_part(bytes(self.buffer))
            self.buffer.clear()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        self.buffer.clear()
        if self.upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


class S3FileStore:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32),
        )

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, prefix: str) -> str:
        query = {k: v for k, v in (("endpoint", self.endpoint_url), ("defaultRegion", self.region)) if v}
        tail = f"?{urlencode(query)}" if query else ""
        return f"s3://{self.bucket}/{self.full_key(prefix)}{tail}"

    def writer(self, key: str) -> _S3Writer:
        return _S3Writer(self, key)

    def read(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError:
            return None
        return int(head["ContentLength"])

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.full_key(prefix)):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
