"""How soon a started server answers: `modelreg serve` as a newcomer starts it (one worker,
a new SQLite data directory, so the start creates the database), against the floor started
the same way (uvicorn and a bare ASGI endpoint: what no Python HTTP service can start
faster than) and, when asked, MLflow's tracking server.

Each round starts every system once, the order flipped every round, so a slow moment of
this shared machine falls on both alike. The time is from the spawn to the first answered
request; the CPU is the server's process tree's at that moment. modelreg's modules are
compiled first, as installing its wheel leaves them (an editable checkout, with
PYTHONDONTWRITEBYTECODE set, would compile every module at every start).
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._proc import loadavg, tree_cpu_seconds
from bench._run import Output
from bench._servers import Server, floor_server, mlflow_server, modelreg_server

__all__ = ["StartupOptions", "startup"]

SYSTEMS = ("modelreg", "floor", "mlflow")


@dataclass
class StartupOptions:
    systems: list[str] = field(default_factory=lambda: ["modelreg", "floor"])
    rounds: int = 7
    workdir: Path = Path("/tmp/modelreg-bench/startup")
    out: Path | None = None


def _server(name: str, workdir: Path) -> Server:
    """`name` on a database of its own that does not exist yet."""
    if name == "modelreg":
        return modelreg_server(
            workdir, f"sqlite:///{workdir / 'modelreg' / 'modelreg.db'}", 1, label="startup"
        )
    if name == "mlflow":
        (workdir / "mlflow").mkdir(parents=True, exist_ok=True)
        return mlflow_server(workdir, f"sqlite:///{workdir / 'mlflow' / 'mlflow.db'}", 1, label="startup")
    return floor_server(workdir, 1)


def _start_once(name: str, workdir: Path) -> dict[str, Any]:
    shutil.rmtree(workdir, ignore_errors=True)
    server = _server(name, workdir).start()
    try:
        cpu = tree_cpu_seconds(server.pid)
    finally:
        server.stop()
    return {"startup_s": round(server.startup_s, 3), "cpu_s": round(cpu, 3)}


def _summary(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = sorted(r["startup_s"] for r in runs)
    return {
        "type": "startup_summary",
        "system": name,
        "starts": len(runs),
        "best_s": walls[0],
        "median_s": statistics.median(walls),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in runs),
    }


def startup(opts: StartupOptions) -> int:
    unknown = [s for s in opts.systems if s not in SYSTEMS]
    if unknown or not opts.systems:
        print(
            f"bench: startup knows {', '.join(SYSTEMS)}; not {', '.join(unknown) or 'nothing'}",
            file=sys.stderr,
        )
        return 2
    import modelreg

    compileall.compile_dir(Path(modelreg.__file__).parent, quiet=1)
    out = Output(opts.out or opts.workdir / f"startup-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in opts.systems}
    try:
        for turn in range(opts.rounds):
            order = opts.systems if turn % 2 == 0 else opts.systems[::-1]
            for name in order:
                line = {"type": "startup", "system": name, "round": turn, "loadavg": loadavg()}
                line.update(_start_once(name, opts.workdir / name))
                runs[name].append(line)
                out.emit(line)
                print(
                    f"  {name:8} round {turn}: {line['startup_s']:.2f} s, {line['cpu_s']:.2f} s CPU",
                    file=sys.stderr,
                )
        summaries = [_summary(name, runs[name]) for name in opts.systems]
        for summary in summaries:
            out.emit(summary)
    finally:
        out.close()
    print(_table(summaries))
    print(f"results: {out.path}")
    return 0


def _table(summaries: list[dict[str, Any]]) -> str:
    by = {s["system"]: s for s in summaries}
    rows = [
        "| system | starts | best | median | median CPU | median / modelreg's |",
        "|---|---|---|---|---|---|",
    ]
    base = by.get("modelreg")
    for s in summaries:
        ratio = f"{s['median_s'] / base['median_s']:.2f}x" if base else "-"
        rows.append(
            f"| {s['system']} | {s['starts']} | {s['best_s']:.2f} s | {s['median_s']:.2f} s "
            f"| {s['median_cpu_s']:.2f} s | {ratio} |"
        )
    return "\n".join(rows)
