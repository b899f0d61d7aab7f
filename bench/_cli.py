"""`python -m bench`: run, load, scale, startup, floor-server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["main"]


def _csv(kind: type = str):  # type: ignore[no-untyped-def]
    return lambda s: [kind(x) for x in s.split(",") if x]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench", description="modelreg's benchmark, against MLflow and the floor."
    )
    sub = p.add_subparsers(dest="command", required=True)
    cores = os.cpu_count() or 2

    r = sub.add_parser("run", help="modelreg against MLflow and a bare ASGI endpoint, same run, same machine")
    r.add_argument(
        "--systems",
        type=_csv(),
        default=["modelreg", "mlflow", "floor"],
        help="modelreg,mlflow,floor; also floor-pg: the floor plus modelreg's get statement "
        "on modelreg's PostgreSQL database (PostgreSQL runs only, beside modelreg)",
    )
    r.add_argument("--db", type=_csv(), default=["sqlite", "postgresql"], help="sqlite,postgresql")
    r.add_argument("--scenarios", type=_csv(), default=["get", "find", "page", "filter", "register", "mix"])
    r.add_argument("--concurrency", type=_csv(int), default=[1, 8, 32])
    r.add_argument("--seconds", type=float, default=10.0, help="measured time per scenario and concurrency")
    r.add_argument("--workers", type=int, default=cores, help="server worker processes, the same for all")
    r.add_argument("--models", type=int, default=200, help="catalog: registered models")
    r.add_argument("--versions", type=int, default=5, help="catalog: versions per model")
    r.add_argument("--fill-concurrency", type=int, default=8)
    r.add_argument("--workdir", type=Path, default=Path("/tmp/modelreg-bench"))
    r.add_argument(
        "--out", type=Path, default=None, help="JSON lines (default: <workdir>/run-*/results.jsonl)"
    )
    r.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="PostgreSQL server for scratch databases")  # fmt: skip
    r.add_argument("--no-client-nodelay", dest="nodelay", action="store_false",
                   help="clear TCP_NODELAY on the client's sockets (to see what a Nagle stall looks like)")  # fmt: skip
    r.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="modelreg without its access log"
    )
    r.add_argument("--keep-data", action="store_true", help="keep the SQLite files after the run")
    r.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="turns per scenario and concurrency, the order flipped each turn; ratios of the medians",
    )
    r.add_argument("--client", choices=["aiohttp", "httpx", "raw"], default="aiohttp",
                   help="the load generator's HTTP client: aiohttp (C parser, cheap per request), httpx, "
                        "or a minimal one that costs the least CPU")  # fmt: skip

    ld = sub.add_parser("load", help="fill a modelreg database in bulk (no HTTP)")
    ld.add_argument("--database-url", required=True, help="sqlite:///path/modelreg.db or postgresql://...")
    ld.add_argument("--models", type=int, default=100_000)
    ld.add_argument("--versions", type=int, default=10, help="versions per model")
    ld.add_argument("--artifacts", action="store_true", help="one model artifact per version too")

    sc = sub.add_parser("scale", help="find-by-name and filtered pages at 10k and at 1M versions")
    sc.add_argument("--db", type=_csv(), default=["sqlite", "postgresql"])
    sc.add_argument(
        "--sizes", type=_csv(int), default=[10_000, 1_000_000], help="versions; the first is the base"
    )
    sc.add_argument("--versions", type=int, default=10, help="versions per model")
    sc.add_argument("--scenarios", type=_csv(), default=["find", "filter", "filter_rare", "get", "page"])
    sc.add_argument("--concurrency", type=_csv(int), default=[1, 8])
    sc.add_argument("--seconds", type=float, default=10.0)
    sc.add_argument("--workers", type=int, default=cores)
    sc.add_argument("--workdir", type=Path, default=Path("/tmp/modelreg-bench/scale"))
    sc.add_argument("--out", type=Path, default=None)
    sc.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    sc.add_argument("--reload", action="store_true", help="load again even if a loaded database is there")
    sc.add_argument("--keep-data", action="store_true", help="keep the loaded databases for the next run")
    sc.add_argument(
        "--rounds", type=int, default=2, help="turns over the sizes per scenario (p95: their median)"
    )

    st = sub.add_parser(
        "startup", help="how soon `modelreg serve` answers after it starts, against the floor (and MLflow)"
    )
    st.add_argument("--systems", type=_csv(), default=["modelreg", "floor"], help="modelreg,floor,mlflow")
    st.add_argument(
        "--rounds", type=int, default=7, help="starts of each system, the order flipped each round"
    )
    st.add_argument("--workdir", type=Path, default=Path("/tmp/modelreg-bench/startup"))
    st.add_argument("--out", type=Path, default=None, help="JSON lines (default: <workdir>/startup-*.jsonl)")

    fl = sub.add_parser("floor-server", help="serve the bare ASGI endpoint (started by run)")
    fl.add_argument("--host", default="127.0.0.1")
    fl.add_argument("--port", type=int, required=True)
    fl.add_argument("--workers", type=int, default=1)
    fl.add_argument(
        "--database-url",
        default=None,
        help="modelreg's PostgreSQL database: run its get statement per request",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "floor-server":
        from bench._floor import serve

        serve(args.host, args.port, args.workers, args.database_url)
        return 0
    if args.command == "load":
        from bench._loader import load

        load(args.database_url, args.models, args.versions, artifacts=args.artifacts)
        return 0
    if args.command == "startup":
        from bench._startup import StartupOptions, startup

        return startup(StartupOptions(args.systems, args.rounds, args.workdir, args.out))
    if args.command == "scale":
        from bench._scale import ScaleOptions, scale

        return scale(ScaleOptions(**{k: v for k, v in vars(args).items() if k != "command"}))
    from bench._run import Options, run

    opts = Options(
        systems=args.systems,
        dbs=args.db,
        scenarios=args.scenarios,
        concurrency=args.concurrency,
        seconds=args.seconds,
        workers=args.workers,
        models=args.models,
        versions=args.versions,
        fill_concurrency=args.fill_concurrency,
        workdir=args.workdir,
        out=args.out,
        pg_url=args.pg_url,
        nodelay=args.nodelay,
        client=args.client,
        access_log=args.access_log,
        keep_data=args.keep_data,
        rounds=args.rounds,
    )
    return run(opts)
