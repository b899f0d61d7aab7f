"""A server's whole process tree, read from /proc: its memory and its CPU time.

The tree is found through `/proc/<pid>/task/<tid>/children`, so a uvicorn supervisor's
workers and anything they start (MLflow's job runners) count. RSS is summed over the
tree, as `ps` would show it process by process; PSS (each shared page split between the
processes that map it) is sampled less often, since reading smaps is slower.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeSampler", "loadavg", "tree_cpu_seconds", "tree_pids", "tree_rss_bytes"]

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    except OSError:
        pass
    return out


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants that are alive now."""
    seen: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.append(pid)
        todo += _children(pid)
    return seen


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    return sum(_rss(p) for p in tree_pids(root))


def tree_cpu_seconds(root: int) -> float:
    """User plus system CPU time of the live processes of the tree (and of their reaped children)."""
    total = 0
    for pid in tree_pids(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime are fields 14-17 (1-based) of the whole line.
        total += sum(int(x) for x in fields[11:15])
    return total / TICKS


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


@dataclass
class Peak:
    rss: int = 0
    pss: int = 0
    processes: int = 0


class TreeSampler:
    """Samples a tree's RSS every `interval` seconds (PSS every `pss_every` samples) in a thread."""

    def __init__(self, root: int, interval: float = 0.1, pss_every: int = 10) -> None:
        self.root = root
        self.interval = interval
        self.pss_every = pss_every
        self.overall = Peak()
        self.window = Peak()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"rss-{root}", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def reset_window(self) -> None:
        """Start a new window (one scenario); the overall peak keeps counting."""
        self.sample(pss=True)
        with self._lock:
            self.window = Peak()
        self.sample(pss=True)

    def window_peak(self) -> Peak:
        self.sample(pss=True)
        with self._lock:
            return Peak(self.window.rss, self.window.pss, self.window.processes)

    def sample(self, pss: bool = False) -> None:
        pids = tree_pids(self.root)
        rss = sum(_rss(p) for p in pids)
        pss_total = sum(_pss(p) for p in pids) if pss else 0
        with self._lock:
            for peak in (self.overall, self.window):
                peak.rss = max(peak.rss, rss)
                peak.pss = max(peak.pss, pss_total)
                peak.processes = max(peak.processes, len(pids))

    def _loop(self) -> None:
        n = 0
        while not self._stop.is_set():
            self.sample(pss=n % self.pss_every == 0)
            n += 1
            self._stop.wait(self.interval)
