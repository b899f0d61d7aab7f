"""Metric history: every value a run's metric takes is kept, not only the last."""

from __future__ import annotations

import time

from modelreg.entities import METRIC_HISTORY, EntitySpec
from modelreg.store.repository import Record, Repository
from modelreg.store.session import Session


def record_history(session: Session, spec: EntitySpec, metric: Record) -> None:
    """Append the metric's current value to its run's history, when it is a run's metric."""
    if spec.kind != "artifact" or metric["type"] != "metric":
        return
    run_id = metric["experiment_run_id"]
    if run_id is None:
        return
    values = {
        "name": metric["name"],
        "parent_id": run_id,
        "description": metric["description"],
        "state": metric["state"],
        "metric_value": metric["metric_value"],
        "timestamp": metric["timestamp"],
        "step": metric["step"] if metric["step"] is not None else 0,
        "create_time": metric["update_time"] or time.time_ns() // 1_000_000,
        "update_time": metric["update_time"] or time.time_ns() // 1_000_000,
    }
    Repository(session, METRIC_HISTORY).insert(values, dict(metric.properties))
