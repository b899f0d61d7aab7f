"""A model of several files, one of them 200 MB, through the client to a live server and
back: the bytes match, and neither process's memory grows with the file (local and S3)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BIG = 200 * 1024 * 1024
LIMIT = 100 * 1024 * 1024  # peak RSS may grow by less than this, in each process

CLIENT_SCRIPT = r"""
import json, sys
from pathlib import Path

def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no {field}")

import modelreg
url, model, version, src, dest = sys.argv[1:6]
client = modelreg.Client(url)
client.list_models()  # warm up: imports and the connection, before measuring
before = kib("VmRSS")
client.register_model(model, version, path=src, model_format_name="onnx", model_format_version="1")
client.download(model, version, dest)
print(json.dumps({"rss_before": before, "hwm_after": kib("VmHWM")}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("model")
    with open(root / "weights.bin", "wb") as f:
        for _ in range(BIG // (1 << 20)):
            f.write(os.urandom(1 << 20))
    (root / "config").mkdir()
    (root / "config" / "model.json").write_text(json.dumps({"layers": 24, "hidden": 1024}))
    (root / "tokenizer.txt").write_text("\n".join(f"token{i}" for i in range(50_000)))
    (root / "README.md").write_text("# big model\n")
    return root


def _serve(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelreg",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/readyz/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail((tmp_path / "server.log").read_text())
    try:
        yield url, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(params=["local", "s3"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    env: dict[str, str] = {"MODELREG_ACCESS_LOG": "false"}
    if request.param == "s3":
        import boto3

        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"big-{os.getpid()}"
        env.update(
            MODELREG_STORAGE="s3",
            MODELREG_S3_BUCKET=bucket,
            MODELREG_S3_ENDPOINT_URL=endpoint,
            MODELREG_S3_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=bucket)
    yield from _serve(tmp_path, env)


def test_round_trip_of_a_200_mb_model_in_constant_memory(
    server: tuple[str, subprocess.Popen[bytes]], model_dir: Path, tmp_path: Path, record_property: object
) -> None:
    url, proc = server
    server_before = _status(proc.pid, "VmRSS")
    dest = tmp_path / "pulled"
    run = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT, url, "big-model", "1.0", str(model_dir), str(dest)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    client = json.loads(run.stdout.strip().splitlines()[-1])
    server_growth = _status(proc.pid, "VmHWM") - server_before
    client_growth = client["hwm_after"] - client["rss_before"]
    print(
        f"\npeak RSS growth: server {server_growth / 2**20:.1f} MiB, client {client_growth / 2**20:.1f} MiB"
    )
    record_property("server_rss_growth_mib", round(server_growth / 2**20, 1))  # type: ignore[operator]
    record_property("client_rss_growth_mib", round(client_growth / 2**20, 1))  # type: ignore[operator]

    sent = sorted(p.relative_to(model_dir) for p in model_dir.rglob("*") if p.is_file())
    got = sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
    assert got == sent
    for rel in sent:
        assert _sha256(dest / rel) == _sha256(model_dir / rel), rel
    assert server_growth < LIMIT, f"server peak RSS grew {server_growth / 2**20:.0f} MiB"
    assert client_growth < LIMIT, f"client peak RSS grew {client_growth / 2**20:.0f} MiB"


def test_killed_upload_leaves_nothing_live_and_a_retry_completes(model_dir: Path, tmp_path: Path) -> None:
    import modelreg

    for url, _proc in _serve(tmp_path, {"MODELREG_ACCESS_LOG": "false"}):
        script = (
            "import sys, modelreg; "
            "modelreg.Client(sys.argv[1]).register_model('m', '1', path=sys.argv[2], model_format_name='onnx')"
        )
        uploader = subprocess.Popen([sys.executable, "-c", script, url, str(model_dir)])
        client = modelreg.Client(url)
        part_files: list[Path] = []
        deadline = time.monotonic() + 60
        while not part_files and time.monotonic() < deadline:
            part_files = list((tmp_path / "data" / "artifacts").rglob(".weights.bin.part-*"))
            time.sleep(0.01)
        assert part_files, "the upload never began"
        uploader.kill()  # half-way through the 200 MB file
        uploader.wait()
        with httpx.Client(base_url=url) as http:
            version = http.get("/api/model_registry/v1/model_versions").json()["items"][0]
            artifacts = http.get(f"/api/model_registry/v1/model_versions/{version['id']}/artifacts").json()
        assert [a["state"] for a in artifacts["items"]] == ["PENDING"]
        assert not list((tmp_path / "data" / "artifacts").rglob("weights.bin"))

        done = client.register_model("m", "1", path=model_dir, model_format_name="onnx")
        assert done.name == "1"
        with httpx.Client(base_url=url) as http:
            artifacts = http.get(f"/api/model_registry/v1/model_versions/{version['id']}/artifacts").json()
        assert [a["state"] for a in artifacts["items"]] == ["LIVE"]
        client.download("m", "1", tmp_path / "back")
        assert _sha256(tmp_path / "back" / "weights.bin") == _sha256(model_dir / "weights.bin")
