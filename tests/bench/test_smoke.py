"""A few seconds of `python -m bench run` against modelreg and the floor, so the benchmark keeps working.

The full runs, against MLflow on SQLite and PostgreSQL, are for the performance notes
(bench/README.md); this checks that every scenario runs without errors and reports sane
figures, and that the bulk loader still fills modelreg's schema in a way the API reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from bench._loader import load
from modelreg.api.app import create_app
from modelreg.settings import Settings
from tests.conftest import SERVER_URLS, _unreachable

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"get", "find", "page", "filter", "register", "mix"}
V1 = "/api/model_registry/v1"


def test_bench_run_reports_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    argv = [sys.executable, "-m", "bench", "run", "--systems", "modelreg,floor", "--db", "sqlite"]
    argv += ["--seconds", "0.4", "--concurrency", "1,4", "--models", "10", "--versions", "2"]
    argv += ["--workers", "1", "--workdir", str(tmp_path), "--out", str(out)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "ops/s" in proc.stdout and "floor/s" in proc.stdout

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    results = [x for x in lines if x["type"] == "result"]
    assert {(r["scenario"], r["concurrency"]) for r in results if r["system"] == "modelreg"} == {
        (s, c) for s in SCENARIOS for c in (1, 4)
    }
    assert {r["concurrency"] for r in results if r["system"] == "floor"} == {1, 4}
    for r in results:
        assert r["errors"] == 0, r["error_sample"]
        assert r["ops"] > 0 and r["ops_per_s"] > 0
        assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert r["peak_rss_mb"] > 10 and r["processes"] >= 1
        assert r["nodelay"]["sockets"] == r["concurrency"]  # one keep-alive connection a worker
        assert len(r["loadavg"]) == 3
    by = {(r["scenario"], r["concurrency"]): r for r in results if r["system"] == "modelreg"}
    assert by[("filter", 1)]["items_per_op"] == 2  # team-3: a tenth of the 20 versions
    assert by[("page", 1)]["items_per_op"] >= 10  # the 10 models (and the registered ones) on one page
    assert by[("register", 1)]["requests"] == 3 * by[("register", 1)]["ops"]

    fills = [x for x in lines if x["type"] == "fill"]
    assert fills and fills[0]["models"] == 10 and fills[0]["versions"] == 20
    servers = [x for x in lines if x["type"] == "server"]
    assert {s["system"] for s in servers} == {"modelreg", "floor"}
    assert all(s["startup_s"] > 0 for s in servers)
    floor = [x for x in lines if x["type"] == "floor"]
    assert {f["concurrency"] for f in floor} == {1, 4} and all(f["fraction"] > 0 for f in floor)


def test_two_workers_keep_their_connections_once_spread(tmp_path: Path) -> None:
    # Workers ask a client to reconnect only while the split is uneven: a handful of
    # reconnects in a run, not one per request (as when a reused message kept the header).
    out = tmp_path / "results.jsonl"
    argv = [sys.executable, "-m", "bench", "run", "--systems", "modelreg,floor", "--db", "sqlite"]
    argv += ["--scenarios", "get", "--seconds", "2", "--concurrency", "8", "--models", "10"]
    argv += ["--versions", "2", "--workers", "2", "--workdir", str(tmp_path), "--out", str(out)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = [json.loads(line) for line in out.read_text().splitlines()]
    results = [r for r in results if r["type"] == "result"]
    assert {r["system"] for r in results} == {"modelreg", "floor"}
    for r in results:
        assert r["errors"] == 0, r["error_sample"]
        assert 8 <= r["nodelay"]["connections"] <= 40, r


def _postgres_admin_url() -> str:
    """The test PostgreSQL server's URL, for the bench's scratch databases (skipped, or
    failed under CI, when it cannot be reached)."""
    import psycopg

    url = SERVER_URLS["postgresql"]
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        _unreachable("postgresql", exc)
    return url


def test_floor_with_a_query_runs_modelregs_get_on_postgresql(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    argv = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--systems",
        "modelreg,floor,floor-pg",
        "--db",
        "postgresql",
    ]
    argv += ["--scenarios", "get", "--seconds", "0.5", "--concurrency", "2", "--models", "5"]
    argv += ["--versions", "2", "--workers", "1", "--workdir", str(tmp_path), "--out", str(out)]
    argv += ["--pg-url", _postgres_admin_url()]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "floor-pg fraction" in proc.stdout

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    results = {r["system"]: r for r in lines if r["type"] == "result"}
    assert set(results) == {"modelreg", "floor", "floor-pg"}
    for r in results.values():
        assert r["errors"] == 0, r["error_sample"]
        assert r["ops"] > 0
    servers = {(s["system"], s["phase"]) for s in lines if s["type"] == "server"}
    assert ("floor-pg", "started") in servers and ("floor-pg", "stopped") in servers
    (floor,) = [x for x in lines if x["type"] == "floor"]
    assert floor["floor_pg_ops_per_s"] == results["floor-pg"]["ops_per_s"]
    assert floor["floor_pg_fraction"] == round(floor["floor_pg_ops_per_s"] / floor["floor_ops_per_s"], 3)


def test_bench_refuses_systems_it_cannot_run(tmp_path: Path) -> None:
    cases = [
        ("floor,floor-pg", "postgresql", "floor-pg runs modelreg's get statement"),
        ("modelreg,floor-pg", "sqlite", "floor-pg runs modelreg's get statement"),
        ("modelreg,flor", "sqlite", "unknown system flor"),
    ]
    for systems, db, message in cases:
        argv = [sys.executable, "-m", "bench", "run", "--systems", systems, "--db", db]
        argv += ["--workdir", str(tmp_path)]
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and message in proc.stderr, (systems, db, proc.stderr[-2000:])


def test_bench_startup_times_modelreg_against_the_floor(tmp_path: Path) -> None:
    out = tmp_path / "startup.jsonl"
    argv = [sys.executable, "-m", "bench", "startup", "--systems", "modelreg,floor", "--rounds", "2"]
    argv += ["--workdir", str(tmp_path), "--out", str(out)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    starts = [x for x in lines if x["type"] == "startup"]
    # Two rounds, the order flipped in the second.
    assert [(s["round"], s["system"]) for s in starts] == [
        (0, "modelreg"), (0, "floor"), (1, "floor"), (1, "modelreg")
    ]  # fmt: skip
    for s in starts:
        assert 0 < s["startup_s"] < 60 and 0 < s["cpu_s"] < 60
    # modelreg imports its libraries, builds its app and creates its database; the floor
    # imports uvicorn alone.
    summaries = {x["system"]: x for x in lines if x["type"] == "startup_summary"}
    assert summaries["modelreg"]["median_cpu_s"] > summaries["floor"]["median_cpu_s"]
    assert summaries["modelreg"]["starts"] == 2
    assert (tmp_path / "modelreg" / "modelreg" / "modelreg.db").exists()  # the last start created it
    assert "| modelreg | 2 |" in proc.stdout and "| floor | 2 |" in proc.stdout

    refused = subprocess.run([*argv[:5], "modelreg,mlflw"], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "not mlflw" in refused.stderr


def test_loader_fills_the_schema_the_api_reads(tmp_path: Path) -> None:
    summary = load(f"sqlite:///{tmp_path / 'modelreg.db'}", 20, 3, artifacts=True, quiet=True)
    assert summary["versions"] == 60 and summary["artifacts"] == 60
    settings = Settings(data_dir=tmp_path, access_log=False)
    with TestClient(create_app(settings)) as client:
        model = client.get(f"{V1}/registered_model", params={"name": "bench-model-000013"}).json()
        assert model["customProperties"]["team"]["string_value"] == "team-3"
        versions = client.get(f"{V1}/registered_models/{model['id']}/versions").json()["items"]
        assert [v["name"] for v in versions] == ["v1", "v2", "v3"]
        found = client.get(f"{V1}/model_versions", params={"filterQuery": "team = 'team-3'", "pageSize": 100})
        assert found.json()["size"] == 6
        arts = client.get(f"{V1}/model_versions/{versions[0]['id']}/artifacts").json()["items"]
        assert arts[0]["uri"] == "s3://bench/bench-model-000013/v1"
        created = client.post(f"{V1}/registered_models", json={"name": "after-load"}).json()
        assert int(created["id"]) > int(arts[0]["id"])  # ids go on after the loaded ones
