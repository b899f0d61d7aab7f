"""`modelreg serve --workers N`: connections spread over the workers (modelreg/api/spread.py).

A client that opens its keep-alive connections at once used to find them all on one
worker. These tests open 8 at once, as such a client does, and look at which worker
process holds each (from /proc), with libuv's one-accept-at-a-time setting off, so that
the workers' own rebalancing is what is seen.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.cli.conftest import serve_process, serving

V1 = "/api/model_registry/v1"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _workers(pid: int) -> list[int]:
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _established(port: int) -> set[str]:
    """Socket inodes of the server's side of established connections on `port`."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            inodes.add(fields[9])
    return inodes


def _split(workers: list[int], port: int) -> list[int]:
    """How many of the connections on `port` each worker holds, fewest first."""
    mine = _established(port)
    held: Counter[int] = Counter()
    for w in workers:
        for fd in Path(f"/proc/{w}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in mine:
                held[w] += 1
    return sorted(held[w] for w in workers)


@contextmanager
def _serving(tmp_path: Path, **env: str) -> Iterator[tuple[int, list[int]]]:
    """`modelreg serve --workers 2`: its port and its two workers' process ids."""
    with serve_process(tmp_path, "--workers", "2", **env) as (proc, url):
        deadline = time.monotonic() + 30
        while len(workers := _workers(proc.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        yield int(url.rsplit(":", 1)[1]), workers


def test_workers_run_with_the_spreading_settings_and_the_file_goes_at_the_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UV_TCP_SINGLE_ACCEPT"}
    with _serving(tmp_path, **env) as (_, workers):
        seen = [_environ(w) for w in workers]
        assert [e.get("UV_TCP_SINGLE_ACCEPT") for e in seen] == ["1", "1"]
        shared = {e["MODELREG_SPREAD_FILE"] for e in seen}
        assert len(shared) == 1
        assert Path(shared.pop()).exists()
    assert not Path(seen[0]["MODELREG_SPREAD_FILE"]).exists()


def test_eight_connections_opened_at_once_end_up_four_on_each_worker(tmp_path: Path) -> None:
    with _serving(tmp_path, UV_TCP_SINGLE_ACCEPT="0") as (port, workers):
        clients = [
            httpx.Client(base_url=f"http://127.0.0.1:{port}", limits=httpx.Limits(max_connections=1))
            for _ in range(8)
        ]
        try:
            splits = []
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                for c in clients:
                    assert c.get(f"{V1}/registered_models").status_code == 200
                splits.append(_split(workers, port))
                if splits[-1] == [4, 4] and len(splits) > 20:
                    break
            assert splits[-1] == [4, 4], splits
            # Once even, nothing more is closed: the split holds.
            for _ in range(30):
                for c in clients:
                    assert c.get(f"{V1}/registered_models").status_code == 200
            assert _split(workers, port) == [4, 4]
        finally:
            for c in clients:
                c.close()


def test_one_worker_never_asks_a_client_to_reconnect(tmp_path: Path) -> None:
    with serving(tmp_path) as url, httpx.Client(base_url=url) as c:
        answers = [c.get(f"{V1}/registered_models") for _ in range(50)]
    assert all(a.status_code == 200 and "connection" not in a.headers for a in answers)
