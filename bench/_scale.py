"""Does modelreg stay flat as its catalog grows? The same scenarios at 10k and at 1M versions.

Each size gets its own database, filled by the bulk loader (and kept with --keep-data, so
a rerun skips the load); its schema is brought to HEAD before the server starts, as
`modelreg db upgrade` would, so the startup time is the server's own.

- find: GET /registered_model?name= for a random model.
- filter: versions with `team = 'team-3'` (a tenth of them), first page, id order.
- filter_rare: versions with `dataset = 'ds-0042'` (a thousandth), newest first, first page
  of 10 (10k versions hold 10 such: both sizes answer the same amount).
- get: a random version by id. page: walking the models, 100 a page.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import _report
from bench._load import run_scenario
from bench._loader import load
from bench._proc import loadavg
from bench._run import Output, new_loop
from bench._servers import modelreg_server
from bench._systems import Modelreg

__all__ = ["ScaleOptions", "scale"]

FLAT_TARGET = 2.0
RSS_TARGET_MB = 300


@dataclass
class ScaleOptions:
    db: list[str] = field(default_factory=lambda: ["sqlite", "postgresql"])
    sizes: list[int] = field(default_factory=lambda: [10_000, 1_000_000])
    versions: int = 10
    scenarios: list[str] = field(default_factory=lambda: ["find", "filter", "filter_rare", "get", "page"])
    concurrency: list[int] = field(default_factory=lambda: [1, 8])
    seconds: float = 10.0
    workers: int = 2
    workdir: Path = Path("/tmp/modelreg-bench/scale")
    out: Path | None = None
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    reload: bool = False
    keep_data: bool = False
    rounds: int = 2


def _pg(opts: ScaleOptions, sql: str) -> None:
    import psycopg

    with psycopg.connect(opts.pg_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _url(opts: ScaleOptions, db: str, size: int) -> str:
    if db == "sqlite":
        return f"sqlite:///{opts.workdir / f'sqlite-{size}' / 'modelreg.db'}"
    return f"{opts.pg_url.rsplit('/', 1)[0]}/bench_scale_{size}"


def _prepare(opts: ScaleOptions, db: str, size: int, out: Output) -> str:
    """The database for `size` versions, loaded (again, if asked or if it does not match)."""
    from sqlalchemy import func, select

    from modelreg.store import migrations
    from modelreg.store.engine import make_engine
    from modelreg.store.schema import TABLES

    url = _url(opts, db, size)
    count = -1
    if not opts.reload:
        try:
            engine = make_engine(url)
            with engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(TABLES["model_version"])).scalar() or 0
            migrated = time.perf_counter()
            migrations.upgrade(engine)  # an older schema: as `modelreg db upgrade` before serving
            out.emit(
                {
                    "type": "upgrade",
                    "db": db,
                    "size": size,
                    "seconds": round(time.perf_counter() - migrated, 2),
                }
            )
            engine.dispose()
        except Exception:
            count = -1
    if count == size:
        return url
    print(f"bench scale: loading {size} versions into {db}", file=sys.stderr)
    if db == "sqlite":
        shutil.rmtree(opts.workdir / f"sqlite-{size}", ignore_errors=True)
        (opts.workdir / f"sqlite-{size}").mkdir(parents=True)
    else:
        _pg(opts, f"DROP DATABASE IF EXISTS bench_scale_{size} WITH (FORCE)")
        _pg(opts, f"CREATE DATABASE bench_scale_{size}")
    out.emit(
        {**load(url, size // opts.versions, opts.versions), "db": db, "size": size, "loadavg": loadavg()}
    )
    return url


def _sample_ids(url: str, n: int = 2000) -> list[str]:
    from sqlalchemy import func, select

    from modelreg.store.engine import make_engine
    from modelreg.store.schema import TABLES

    t = TABLES["model_version"]
    engine = make_engine(url)
    with engine.connect() as conn:
        low, high = conn.execute(select(func.min(t.c.id), func.max(t.c.id))).one()
        rng = random.Random(7)
        candidates = sorted({rng.randint(low, high) for _ in range(n * 2)})
        ids = [str(i) for i in conn.execute(select(t.c.id).where(t.c.id.in_(candidates))).scalars()]
    engine.dispose()
    return ids[:n]


def _systems(base_url: str, size: int, opts: ScaleOptions, ids: list[str]) -> dict[str, tuple[str, Modelreg]]:
    rng = random.Random(11)
    models = size // opts.versions
    names = [f"bench-model-{rng.randrange(models):06d}" for _ in range(2000)]
    plain = Modelreg(base_url, model_names=names, version_ids=ids)
    # A page of 10: a thousandth of 10k versions is 10, so both sizes answer the same 10 items.
    rare = Modelreg(
        base_url,
        filter_query="dataset = 'ds-0042'",
        filter_params={"orderBy": "CREATE_TIME", "sortOrder": "DESC", "pageSize": "10"},
    )
    return {"find": ("find", plain), "filter": ("filter", plain), "filter_rare": ("filter", rare),
            "get": ("get", plain), "page": ("page", plain)}  # fmt: skip


async def _measure(opts: ScaleOptions, db: str, urls: dict[int, str], out: Output) -> None:
    """Every size served at once, and measured in turns: for each scenario and
    concurrency, `rounds` rounds over the sizes, the order flipped each round, so that a
    spell of load on this shared machine falls on both sizes alike."""
    servers = {}
    systems = {}
    try:
        for size, url in urls.items():
            ids = _sample_ids(url)
            server = servers[size] = modelreg_server(
                opts.workdir, url, opts.workers, label=f"{db}-{size}"
            ).start()
            out.emit({"type": "server", "system": "modelreg", "db": db, "size": size, "phase": "started",
                      "startup_s": round(server.startup_s, 3), "loadavg": loadavg()})  # fmt: skip
            systems[size] = _systems(server.base_url, size, opts, ids)
        for scenario in opts.scenarios:
            for c in opts.concurrency:
                for round_ in range(opts.rounds):
                    sizes = list(urls) if round_ % 2 == 0 else list(reversed(urls))
                    for size in sizes:
                        server = servers[size]
                        op, system = systems[size][scenario]
                        result = await run_scenario(
                            system, op, c, opts.seconds, db=db, server_pid=server.pid,
                            sampler=server.sampler, catalog=str(size), label=scenario,
                        )  # fmt: skip
                        out.emit({**result.line(), "round": round_})
        for size, server in servers.items():
            assert server.sampler is not None
            peak = server.sampler.overall
            out.emit({"type": "server", "system": "modelreg", "db": db, "size": size, "phase": "stopped",
                      "startup_s": round(server.startup_s, 3), "peak_rss_mb": round(peak.rss / 2**20, 1),
                      "peak_pss_mb": round(peak.pss / 2**20, 1), "processes": peak.processes,
                      "loadavg": loadavg()})  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()


def flatness(results: list[dict[str, Any]], base: int, top: int) -> list[dict[str, Any]]:
    """p95 at `top` over p95 at `base`, each the median over the rounds."""
    rounds: dict[tuple[str, str, int, str], list[dict[str, Any]]] = {}
    for r in results:
        rounds.setdefault((r["db"], r["scenario"], r["concurrency"], r["catalog"]), []).append(r)
    rows = []
    for (db, scenario, c, size), runs in sorted(rounds.items()):
        if size != str(top) or (db, scenario, c, str(base)) not in rounds:
            continue
        base_runs = rounds[(db, scenario, c, str(base))]
        p95_base = statistics.median(x["p95_ms"] for x in base_runs)
        p95_top = statistics.median(x["p95_ms"] for x in runs)
        rows.append({"type": "scale_ratio", "db": db, "scenario": scenario, "concurrency": c,
                     "base": base, "top": top, "p95_base_ms": p95_base, "p95_top_ms": p95_top,
                     "p95_ratio": round(p95_top / p95_base, 2) if p95_base else None,
                     "p95_base_rounds_ms": [x["p95_ms"] for x in base_runs],
                     "p95_top_rounds_ms": [x["p95_ms"] for x in runs],
                     "rss_top_mb": max(x["peak_rss_mb"] for x in runs)})  # fmt: skip
    return rows


def scale(opts: ScaleOptions) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    opts.workdir.mkdir(parents=True, exist_ok=True)
    out = Output(opts.out or opts.workdir / f"scale-{stamp}.jsonl")
    out.emit({"type": "meta", "command": "scale", "argv": sys.argv, "loadavg": loadavg(), "started": stamp,
              "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()}})  # fmt: skip
    print(f"bench: results in {out.path}", file=sys.stderr)
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            for db in opts.db:
                urls = {size: _prepare(opts, db, size, out) for size in opts.sizes}
                runner.run(_measure(opts, db, urls, out))
    finally:
        out.close()
        if not opts.keep_data:
            for db in opts.db:
                for size in opts.sizes:
                    if db == "sqlite":
                        shutil.rmtree(opts.workdir / f"sqlite-{size}", ignore_errors=True)
                    else:
                        _pg(opts, f"DROP DATABASE IF EXISTS bench_scale_{size} WITH (FORCE)")
    results = [x for x in out.lines if x["type"] == "result"]
    rows = flatness(results, min(opts.sizes), max(opts.sizes))
    with out.path.open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(_report.table(results))
    print()
    for r in rows:
        judged = r["scenario"] in ("find", "filter", "filter_rare")
        verdict = (
            ("PASS" if r["p95_ratio"] is not None and r["p95_ratio"] <= FLAT_TARGET else "FAIL")
            if judged
            else "    "
        )
        print(f"{verdict} {r['db']:10} {r['scenario']:11} c={r['concurrency']:<2} p95 {r['p95_base_ms']:.2f} ms at "
              f"{r['base']} -> {r['p95_top_ms']:.2f} ms at {r['top']}: {r['p95_ratio']}x "
              f"(rounds: {r['p95_base_rounds_ms']} -> {r['p95_top_rounds_ms']} ms)")  # fmt: skip
    for s in (x for x in out.lines if x["type"] == "server" and x["phase"] == "stopped"):
        verdict = "PASS" if s["peak_rss_mb"] < RSS_TARGET_MB else "FAIL"
        print(f"{verdict} {s['db']:10} {s['size']:>8} versions: peak RSS {s['peak_rss_mb']:.0f} MB "
              f"(PSS {s['peak_pss_mb']:.0f} MB, {s['processes']} processes), started in {s['startup_s']:.2f} s")  # fmt: skip
    print(f"\nJSON lines: {out.path}")
    return 0
