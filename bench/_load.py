"""The load generator: N workers, each with its own keep-alive connection, for a fixed time.

Every worker repeats its scenario's operation until the deadline; an operation under way
then finishes and counts. Latency is per operation (a registration is its whole request
sequence); the stall check looks at every request. A request that pays a Nagle /
delayed-ACK stall waits for the peer's delayed ACK, about 40 ms on Linux: such requests
pile up between 38 and 50 ms, well above their neighbours on either side.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench._proc import TreeSampler, loadavg, tree_cpu_seconds
from bench._systems import Conn, ModelSpec, System, VersionSpec, WalkState, version_props

__all__ = ["SCENARIOS", "Result", "fill", "percentile", "run_scenario", "stall_check"]

SCENARIOS = ("get", "find", "page", "filter", "register", "mix")
MIX_WRITE_SHARE = 0.10
MIX_READS = ("get", "find", "page", "filter")
_tags = itertools.count()


@dataclass
class Result:
    system: str
    db: str
    scenario: str
    concurrency: int
    seconds: float
    ops: int
    requests: int
    errors: int
    ops_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    items_per_op: float  # list sizes: both systems should answer pages alike
    stall_40ms: dict[str, Any]
    nodelay: dict[str, int]
    client_cpu_pct: float
    server_cpu_pct: float
    peak_rss_mb: float
    peak_pss_mb: float
    processes: int
    loadavg: list[float]
    walks: int = 0
    error_sample: str = ""
    catalog: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> dict[str, Any]:
        return {"type": "result", **asdict(self)}


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def stall_check(latencies: list[float]) -> dict[str, Any]:
    """Requests in the 38-50 ms band, against the 12 ms bands below and above it."""
    below = sum(1 for x in latencies if 0.026 <= x < 0.038)
    band = sum(1 for x in latencies if 0.038 <= x < 0.050)
    above = sum(1 for x in latencies if 0.050 <= x < 0.062)
    n = len(latencies)
    share = band / n if n else 0.0
    cluster = band >= 20 and share >= 0.01 and band > 3 * max(below, above)
    return {
        "requests": n,
        "in_band": band,
        "below": below,
        "above": above,
        "share": round(share, 4),
        "cluster": cluster,
    }


def _registration(tag: str, worker: int, n: int) -> ModelSpec:
    team, dataset, accuracy = version_props(n)
    name = f"reg-{tag}-{worker}-{n}"
    return ModelSpec(name, team, (VersionSpec("v1", f"s3://bench/{name}/v1", team, dataset, accuracy),))


def _operation(
    system: System, scenario: str, worker: int, rng: random.Random
) -> Callable[[Conn], Awaitable[int]]:
    tag = f"{system.name[:2]}{next(_tags)}{int(time.time()) % 100000}"
    counter = itertools.count()
    state = WalkState()

    async def register(conn: Conn) -> int:
        await system.register(conn, _registration(tag, worker, next(counter)))
        return 1

    reads: dict[str, Callable[[Conn], Awaitable[int]]] = {
        "get": lambda c: system.get(c, rng),
        "find": lambda c: system.find(c, rng),
        "page": lambda c: system.page(c, state),
        "filter": lambda c: system.filter(c, rng),
    }

    async def mix(conn: Conn) -> int:
        if rng.random() < MIX_WRITE_SHARE:
            return await register(conn)
        return await reads[rng.choice(MIX_READS)](conn)

    op = {"register": register, "mix": mix, **reads}[scenario]
    op.walk_state = state  # type: ignore[attr-defined]
    return op


async def _worker(
    op: Callable[[Conn], Awaitable[int]], conn: Conn, deadline: float, lat: list[float], acc: dict[str, Any]
) -> None:
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            items = await op(conn)
        except Exception as exc:
            acc["errors"] += 1
            acc["sample"] = acc["sample"] or f"{type(exc).__name__}: {exc}"[:400]
            continue
        lat.append(time.perf_counter() - started)
        acc["items"] += items  # after the await: the workers share `acc`


async def run_scenario(
    system: System,
    scenario: str,
    concurrency: int,
    seconds: float,
    *,
    db: str,
    server_pid: int | None,
    sampler: TreeSampler | None,
    nodelay: bool = True,
    client: str = "httpx",
    seed: int = 1,
    catalog: str = "",
    label: str = "",
) -> Result:
    """Run `scenario` on `system` at `concurrency` for `seconds`; `label` names it in the result."""
    conns = [Conn(system.base_url, nodelay=nodelay, client=client) for _ in range(concurrency)]
    ops = [_operation(system, scenario, w, random.Random(seed * 1000 + w)) for w in range(concurrency)]
    acc: dict[str, Any] = {"items": 0, "errors": 0, "sample": ""}
    try:
        # Warm up: open every connection and run each operation once, uncounted.
        warm: dict[str, Any] = {"items": 0, "errors": 0, "sample": ""}
        await asyncio.gather(*(_once(op, c, warm) for op, c in zip(ops, conns, strict=True)))
        for c in conns:
            c.latencies.clear()
        for op in ops:
            op.walk_state.walks = 0  # type: ignore[attr-defined]
        if sampler is not None:
            sampler.reset_window()
        cpu0, server0 = time.process_time(), tree_cpu_seconds(server_pid) if server_pid else 0.0
        started = time.perf_counter()
        deadline = started + seconds
        lats: list[list[float]] = [[] for _ in conns]
        await asyncio.gather(
            *(_worker(op, c, deadline, lat, acc) for op, c, lat in zip(ops, conns, lats, strict=True))
        )
        elapsed = time.perf_counter() - started
        cpu1, server1 = time.process_time(), tree_cpu_seconds(server_pid) if server_pid else 0.0
    finally:
        await asyncio.gather(*(c.aclose() for c in conns))
    latencies = sorted(itertools.chain.from_iterable(lats))
    requests = [x for c in conns for x in c.latencies]
    peak = sampler.window_peak() if sampler is not None else None
    n = len(latencies)
    return Result(
        system=system.name,
        db=db,
        scenario=label or scenario,
        concurrency=concurrency,
        seconds=round(elapsed, 3),
        ops=n,
        requests=len(requests),
        errors=acc["errors"],
        ops_per_s=round(n / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(percentile(latencies, 50) * 1000, 2),
        p95_ms=round(percentile(latencies, 95) * 1000, 2),
        p99_ms=round(percentile(latencies, 99) * 1000, 2),
        max_ms=round((latencies[-1] if latencies else 0.0) * 1000, 2),
        items_per_op=round(acc["items"] / n, 1) if n else 0.0,
        stall_40ms=stall_check(requests),
        nodelay={
            "connections": sum(c.connections for c in conns),
            "sockets": sum(c.sockets_checked for c in conns),
            "without_nodelay_as_connected": sum(c.sockets_without_nodelay for c in conns),
            "client_sets": int(nodelay),
        },
        client_cpu_pct=round(100 * (cpu1 - cpu0) / elapsed, 1) if elapsed else 0.0,
        server_cpu_pct=round(100 * (server1 - server0) / elapsed, 1) if elapsed else 0.0,
        peak_rss_mb=round(peak.rss / 2**20, 1) if peak else 0.0,
        peak_pss_mb=round(peak.pss / 2**20, 1) if peak else 0.0,
        processes=peak.processes if peak else 0,
        loadavg=loadavg(),
        walks=sum(op.walk_state.walks for op in ops),  # type: ignore[attr-defined]
        error_sample=acc["sample"],
        catalog=catalog,
        extra={"client": client},
    )


async def _once(op: Callable[[Conn], Awaitable[int]], conn: Conn, acc: dict[str, Any]) -> None:
    try:
        await op(conn)
    except Exception as exc:
        acc["errors"] += 1
        acc["sample"] = acc["sample"] or str(exc)


async def fill(system: System, models: list[ModelSpec], concurrency: int = 8) -> dict[str, Any]:
    """Register the whole catalog through the system's REST API, `concurrency` at a time."""
    queue: asyncio.Queue[ModelSpec] = asyncio.Queue()
    for m in models:
        queue.put_nowait(m)
    conns = [Conn(system.base_url) for _ in range(concurrency)]

    async def work(conn: Conn) -> None:
        while not queue.empty():
            await system.register(conn, queue.get_nowait())

    started = time.perf_counter()
    try:
        await asyncio.gather(*(work(c) for c in conns))
    finally:
        await asyncio.gather(*(c.aclose() for c in conns))
    elapsed = time.perf_counter() - started
    requests = sum(len(c.latencies) for c in conns)
    return {
        "type": "fill",
        "system": system.name,
        "models": len(models),
        "versions": sum(len(m.versions) for m in models),
        "requests": requests,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(requests / elapsed, 1) if elapsed else 0.0,
        "loadavg": loadavg(),
    }
