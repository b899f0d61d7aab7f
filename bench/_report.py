"""Tables, ratios and the issue's acceptance checks, from the JSON lines of a run."""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["acceptance", "ratios", "table"]

# Issue 5's targets at concurrency 8: modelreg/MLflow throughput, by database.
TARGETS: dict[str, dict[str, float | None]] = {
    "sqlite": {"register": 5.0, "other": 10.0, "p99": 0.2},
    "postgresql": {"register": 3.0, "other": 5.0, "p99": None},
}
FLOOR_TARGET = 0.5
JUDGED_AT = 8


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _render(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def table(results: list[dict[str, Any]]) -> str:
    headers = ["db", "system", "scenario", "c", "ops/s", "p50 ms", "p95 ms", "p99 ms", "err", "items",
               "rss MB", "cli cpu%", "srv cpu%", "40ms", "load1"]  # fmt: skip
    rows = []
    for r in results:
        stall = r["stall_40ms"]
        rows.append(
            [
                r["db"],
                r["system"],
                r["scenario"],
                str(r["concurrency"]),
                _fmt(r["ops_per_s"]),
                _fmt(r["p50_ms"]),
                _fmt(r["p95_ms"]),
                _fmt(r["p99_ms"]),
                str(r["errors"]),
                _fmt(r["items_per_op"]),
                f"{r['peak_rss_mb']:.0f}",
                f"{r['client_cpu_pct']:.0f}",
                f"{r['server_cpu_pct']:.0f}",
                f"CLUSTER {100 * stall['share']:.0f}%" if stall["cluster"] else "-",
                f"{r['loadavg'][0]:.2f}",
            ]
        )
    return _render(headers, rows)


def _index(results: list[dict[str, Any]]) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """Each (db, system, scenario, concurrency): the median over its rounds of ops/s and of p99."""
    rounds: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in results:
        rounds.setdefault((r["db"], r["system"], r["scenario"], r["concurrency"]), []).append(r)
    return {
        key: {
            "ops_per_s": statistics.median(r["ops_per_s"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "rounds": len(runs),
        }
        for key, runs in rounds.items()
    }


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """modelreg/MLflow throughput and p99 for every (db, scenario, concurrency) both ran,
    and modelreg's get-by-id as a fraction of the floor's (beside it, when measured, the
    floor with a query's: the bound a get that asks the database can reach)."""
    idx = _index(results)
    out = []
    for (db, system, scenario, c), mr in sorted(idx.items()):
        if system != "modelreg":
            continue
        ml = idx.get((db, "mlflow", scenario, c))
        if ml is not None and ml["ops_per_s"] and ml["p99_ms"]:
            out.append(
                {
                    "type": "ratio",
                    "db": db,
                    "scenario": scenario,
                    "concurrency": c,
                    "throughput_x": round(mr["ops_per_s"] / ml["ops_per_s"], 2),
                    "p99_ratio": round(mr["p99_ms"] / ml["p99_ms"], 3),
                    "modelreg_ops_per_s": mr["ops_per_s"],
                    "mlflow_ops_per_s": ml["ops_per_s"],
                    "rounds": mr["rounds"],
                }
            )
        floor = idx.get((db, "floor", "get", c))
        if scenario == "get" and floor is not None and floor["ops_per_s"]:
            row = {
                "type": "floor",
                "db": db,
                "concurrency": c,
                "fraction": round(mr["ops_per_s"] / floor["ops_per_s"], 3),
                "modelreg_ops_per_s": mr["ops_per_s"],
                "floor_ops_per_s": floor["ops_per_s"],
                "rounds": mr["rounds"],
            }
            bound = idx.get((db, "floor-pg", "get", c))
            if bound is not None:
                row["floor_pg_ops_per_s"] = bound["ops_per_s"]
                row["floor_pg_fraction"] = round(bound["ops_per_s"] / floor["ops_per_s"], 3)
            out.append(row)
    return out


def ratio_table(rows: list[dict[str, Any]]) -> str:
    peer = [r for r in rows if r["type"] == "ratio"]
    floor = [r for r in rows if r["type"] == "floor"]
    parts = []
    if peer:
        body = [
            [r["db"], r["scenario"], str(r["concurrency"]), _fmt(r["modelreg_ops_per_s"]),
             _fmt(r["mlflow_ops_per_s"]), f"{r['throughput_x']:.1f}x", f"{r['p99_ratio']:.3f}"]
            for r in peer
        ]  # fmt: skip
        parts.append(_render(["db", "scenario", "c", "modelreg/s", "mlflow/s", "thru x", "p99 mr/ml"], body))
    if floor:
        body = [
            [r["db"], str(r["concurrency"]), _fmt(r["modelreg_ops_per_s"]), _fmt(r["floor_ops_per_s"]),
             f"{100 * r['fraction']:.0f}%",
             _fmt(r["floor_pg_ops_per_s"]) if "floor_pg_ops_per_s" in r else "-",
             f"{100 * r['floor_pg_fraction']:.0f}%" if "floor_pg_fraction" in r else "-"]
            for r in floor
        ]  # fmt: skip
        headers = ["db", "c", "get/s", "floor/s", "fraction", "floor-pg/s", "floor-pg fraction"]
        parts.append(_render(headers, body))
    return "\n\n".join(parts)


def acceptance(rows: list[dict[str, Any]]) -> list[str]:
    """One PASS/FAIL line per target of issue 5 this run measured (at concurrency 8)."""
    lines = []
    for r in rows:
        if r["concurrency"] != JUDGED_AT:
            continue
        if r["type"] == "floor":
            ok = r["fraction"] >= FLOOR_TARGET
            lines.append(
                f"{'PASS' if ok else 'FAIL'} {r['db']} get-by-id at {100 * r['fraction']:.0f}% of the floor (>= 50%)"
            )
            continue
        target = TARGETS.get(r["db"])
        if target is None:
            continue
        need = target["register"] if r["scenario"] == "register" else target["other"]
        assert need is not None
        ok = r["throughput_x"] >= need
        lines.append(
            f"{'PASS' if ok else 'FAIL'} {r['db']} {r['scenario']}: {r['throughput_x']:.1f}x MLflow's throughput (>= {need:g}x)"
        )
        if target["p99"] is not None:
            ok = r["p99_ratio"] <= target["p99"]
            lines.append(
                f"{'PASS' if ok else 'FAIL'} {r['db']} {r['scenario']}: p99 {r['p99_ratio']:.3f} of MLflow's (<= 0.2)"
            )
    return lines
