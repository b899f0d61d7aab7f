"""One comparison run: modelreg, MLflow and the floor, on SQLite and then PostgreSQL.

For each database both registries start on a fresh database of that kind with the same
worker count, are filled with the same catalog through their REST APIs, and then run each
scenario at each concurrency, taking turns (the order flips at every step, so drift in
the machine's load falls on both alike). The floor runs beside get-by-id, and on
PostgreSQL, when asked for (`floor-pg`), the floor with modelreg's get statement.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench import _report
from bench._load import fill, run_scenario
from bench._proc import loadavg, tree_cpu_seconds
from bench._servers import Database, Server, floor_server, mlflow_server, modelreg_server
from bench._systems import SYSTEMS, System, catalog

__all__ = ["Options", "Output", "new_loop", "run"]


@dataclass
class Options:
    systems: list[str] = field(default_factory=lambda: ["modelreg", "mlflow", "floor"])
    dbs: list[str] = field(default_factory=lambda: ["sqlite", "postgresql"])
    scenarios: list[str] = field(default_factory=lambda: ["get", "find", "page", "filter", "register", "mix"])
    concurrency: list[int] = field(default_factory=lambda: [1, 8, 32])
    seconds: float = 10.0
    workers: int = 2
    models: int = 200
    versions: int = 5
    fill_concurrency: int = 8
    workdir: Path = Path("/tmp/modelreg-bench")
    out: Path | None = None
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    nodelay: bool = True
    client: str = "aiohttp"  # or "httpx", or "raw": the minimal client of _rawhttp
    access_log: bool = True
    keep_data: bool = False
    rounds: int = 1  # turns per scenario and concurrency; ratios of the rounds' medians


class Output:
    """JSON lines to a file (one per result, flushed), a short progress line on stderr."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a")
        self.lines: list[dict[str, Any]] = []

    def emit(self, line: dict[str, Any]) -> None:
        self.lines.append(line)
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        if line["type"] == "result":
            print(
                f"  {line['db']:10} {line['system']:8} {line['scenario']:8} c={line['concurrency']:<3}"
                f" {line['ops_per_s']:9.1f} ops/s  p99 {line['p99_ms']:8.2f} ms  err {line['errors']}"
                f"  load {line['loadavg'][0]:.2f}",
                file=sys.stderr,
                flush=True,
            )
        elif line["type"] in ("server", "fill"):
            print(f"  {json.dumps(line)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._file.close()


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def _server_line(server: Server, db: str, phase: str) -> dict[str, Any]:
    assert server.sampler is not None
    peak = server.sampler.overall
    return {
        "type": "server",
        "system": server.name,
        "db": db,
        "phase": phase,
        "startup_s": round(server.startup_s, 3),
        "peak_rss_mb": round(peak.rss / 2**20, 1),
        "peak_pss_mb": round(peak.pss / 2**20, 1),
        "processes": peak.processes,
        "pid": server.pid,
        "loadavg": loadavg(),
    }


async def _compare(opts: Options, db: str, out: Output, floor: Server | None) -> None:
    database = Database(db, opts.workdir / db, opts.pg_url)
    servers: dict[str, Server] = {}
    try:
        modelreg_url = None
        for name in opts.systems:
            if name == "modelreg":
                url = modelreg_url = database.url_for("modelreg")
                servers[name] = modelreg_server(
                    opts.workdir, url, opts.workers, access_log=opts.access_log, label=db
                ).start()
            elif name == "mlflow":
                servers[name] = mlflow_server(
                    opts.workdir, database.url_for("mlflow"), opts.workers, label=db
                ).start()
        if floor is not None:
            servers["floor"] = floor
        for server in servers.values():
            out.emit(_server_line(server, db, "started"))
        systems: dict[str, System] = {n: SYSTEMS[n](s.base_url) for n, s in servers.items()}
        models = catalog(opts.models, opts.versions)
        for name, system in systems.items():
            if name != "floor":
                out.emit({**await fill(system, models, opts.fill_concurrency), "db": db})
        if "floor-pg" in opts.systems and db == "postgresql" and modelreg_url is not None:
            # After the fill: it reads modelreg's database, and its versions' ids when it starts.
            bound = servers["floor-pg"] = floor_server(opts.workdir, opts.workers, modelreg_url).start()
            out.emit(_server_line(bound, db, "started"))
            systems["floor-pg"] = SYSTEMS["floor-pg"](bound.base_url)
        step = 0
        for scenario in opts.scenarios:
            for c in opts.concurrency:
                runners = [n for n in systems if scenario in systems[n].scenarios]
                for round_ in range(opts.rounds):
                    order = runners if step % 2 == 0 else runners[::-1]
                    step += 1
                    for name in order:
                        server = servers[name]
                        others = [s for n, s in servers.items() if n != name]
                        idle0 = sum(tree_cpu_seconds(s.pid) for s in others)
                        result = await run_scenario(
                            systems[name],
                            scenario,
                            c,
                            opts.seconds,
                            db=db,
                            server_pid=server.pid,
                            sampler=server.sampler,
                            nodelay=opts.nodelay,
                            client=opts.client,
                            catalog=f"{opts.models}x{opts.versions}",
                        )
                        idle = sum(tree_cpu_seconds(s.pid) for s in others) - idle0
                        result.extra["idle_servers_cpu_pct"] = round(100 * idle / result.seconds, 1)
                        out.emit({**result.line(), "round": round_})
        for name, server in servers.items():
            if name != "floor":  # the floor's line comes once, when the run ends
                out.emit(_server_line(server, db, "stopped"))
    finally:
        for name, server in servers.items():
            if name != "floor":
                server.stop()
        database.cleanup()


def run(opts: Options) -> int:
    unknown = sorted(set(opts.systems) - set(SYSTEMS))
    if unknown:
        raise SystemExit(f"bench: unknown system {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    if "floor-pg" in opts.systems and ("modelreg" not in opts.systems or "postgresql" not in opts.dbs):
        raise SystemExit("bench: floor-pg runs modelreg's get statement on its PostgreSQL database: "
                         "give --systems with modelreg and --db with postgresql")  # fmt: skip
    stamp = time.strftime("%Y%m%d-%H%M%S")
    opts.workdir = opts.workdir / f"run-{stamp}"
    opts.workdir.mkdir(parents=True, exist_ok=True)
    out = Output(opts.out or opts.workdir / "results.jsonl")
    out.emit({"type": "meta", "command": "run", "argv": sys.argv, "options": _jsonable(opts), "loadavg": loadavg(),
              "python": sys.version.split()[0], "started": stamp})  # fmt: skip
    print(f"bench: results in {out.path}", file=sys.stderr)
    floor = floor_server(opts.workdir, opts.workers).start() if "floor" in opts.systems else None
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            for db in opts.dbs:
                runner.run(_compare(opts, db, out, floor))
    finally:
        if floor is not None:
            out.emit(_server_line(floor, "-", "stopped"))
            floor.stop()
        out.close()
        if not opts.keep_data:
            for db in opts.dbs:
                shutil.rmtree(opts.workdir / db, ignore_errors=True)
    results = [x for x in out.lines if x["type"] == "result"]
    rows = _report.ratios(results)
    with out.path.open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(_report.table(results))
    if rows:
        print()
        print(_report.ratio_table(rows))
        print()
        print("\n".join(_report.acceptance(rows)))
    servers = [x for x in out.lines if x["type"] == "server" and x["phase"] == "stopped"]
    for s in servers:
        print(f"{s['system']:8} {s['db']:10} started in {s['startup_s']:.2f} s, peak RSS {s['peak_rss_mb']:.0f} MB "
              f"(PSS {s['peak_pss_mb']:.0f} MB) over {s['processes']} processes")  # fmt: skip
    print(f"\nJSON lines: {out.path}")
    return 0


def _jsonable(opts: Options) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()}
