"""Fill a modelreg database in bulk: SQLAlchemy Core executemany through modelreg's schema.

The catalog is the one `bench run` registers over HTTP (`_systems.catalog`), at any size:
model i is `bench-model-<i>` with `team`; each version has `team` (10 values), `dataset`
(1,000 values) and `accuracy`, and optionally one model artifact. Ids are drawn as the
server draws them, one `resource_ids` row per entity; PostgreSQL's id sequence is moved
past them at the end, and its statistics gathered (as autovacuum would shortly).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sqlalchemy import func, insert, select, text

from bench._systems import version_props

__all__ = ["load"]

BATCH_MODELS = 2000


def _prop(resource_id: int, created: int, name: str, value: Any) -> dict[str, Any]:
    row = {"resource_id": resource_id, "name": name, "value_type": "string", "string_value": None,
           "int_value": None, "double_value": None, "bool_value": None, "proto_type": None,
           "string_prefix": None, "owner_create_time": created}  # fmt: skip
    if isinstance(value, float):
        row["value_type"], row["double_value"] = "double", value
    else:
        row["string_value"], row["string_prefix"] = value, value[:200]
    return row


def load(
    url: str, models: int, versions: int, *, artifacts: bool = False, quiet: bool = False
) -> dict[str, Any]:
    """Add `models` models of `versions` versions each to the (migrated, empty) database at `url`."""
    from modelreg.store import migrations
    from modelreg.store.engine import make_engine
    from modelreg.store.schema import TABLES, custom_properties, resource_ids

    engine = make_engine(url)
    migrations.upgrade(engine)
    rm, mv, art = TABLES["registered_model"], TABLES["model_version"], TABLES["artifact"]
    started = time.perf_counter()
    with engine.connect() as conn:
        if conn.execute(select(func.count()).select_from(rm)).scalar():
            raise SystemExit(f"bench load: {url} already has registered models; load into an empty database")
        next_id = (conn.execute(select(func.max(resource_ids.c.id))).scalar() or 0) + 1
    per_model = 1 + versions * (2 if artifacts else 1)
    t0 = int(time.time() * 1000) - models * per_model
    rows = 0
    for first in range(0, models, BATCH_MODELS):
        ids: list[dict[str, Any]] = []
        r_rows: list[dict[str, Any]] = []
        v_rows: list[dict[str, Any]] = []
        a_rows: list[dict[str, Any]] = []
        p_rows: list[dict[str, Any]] = []
        for m in range(first, min(models, first + BATCH_MODELS)):
            mid = next_id
            next_id += 1
            now = t0 + mid
            name = f"bench-model-{m:06d}"
            ids.append({"id": mid, "kind": "registered_model"})
            r_rows.append({"id": mid, "name": name, "create_time": now, "update_time": now,
                           "archived_with_parent": False, "owner": "bench", "state": "LIVE"})  # fmt: skip
            p_rows.append(_prop(mid, now, "team", f"team-{m % 10}"))
            for v in range(versions):
                vid = next_id
                next_id += 1
                team, dataset, accuracy = version_props(m * versions + v)
                ids.append({"id": vid, "kind": "model_version"})
                v_rows.append({"id": vid, "name": f"v{v + 1}", "parent_id": mid, "create_time": t0 + vid,
                               "update_time": t0 + vid, "archived_with_parent": False, "author": "bench",
                               "state": "LIVE"})  # fmt: skip
                p_rows += [
                    _prop(vid, t0 + vid, "team", team),
                    _prop(vid, t0 + vid, "dataset", dataset),
                    _prop(vid, t0 + vid, "accuracy", accuracy),
                ]
                if artifacts:
                    aid = next_id
                    next_id += 1
                    ids.append({"id": aid, "kind": "artifact"})
                    a_rows.append({"id": aid, "name": name, "type": "model-artifact", "parent_id": vid,
                                   "create_time": t0 + aid, "update_time": t0 + aid, "state": "LIVE",
                                   "uri": f"s3://bench/{name}/v{v + 1}", "model_format_name": "onnx",
                                   "model_format_version": "1"})  # fmt: skip
        with engine.begin() as conn:
            for table, batch in (
                (resource_ids, ids),
                (rm, r_rows),
                (mv, v_rows),
                (art, a_rows),
                (custom_properties, p_rows),
            ):
                if batch:
                    conn.execute(insert(table), batch)
        rows += len(ids) + len(r_rows) + len(v_rows) + len(a_rows) + len(p_rows)
        if not quiet:
            done = min(models, first + BATCH_MODELS)
            print(f"\r  loaded {done}/{models} models, {rows} rows, {time.perf_counter() - started:.0f} s",
                  end="", file=sys.stderr, flush=True)  # fmt: skip
    loaded = time.perf_counter() - started
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('resource_ids', 'id'), :n)"), {"n": next_id - 1}
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    if not quiet:
        print(file=sys.stderr)
    return {
        "type": "load",
        "url": engine.url.render_as_string(hide_password=True),
        "models": models,
        "versions": models * versions,
        "artifacts": models * versions if artifacts else 0,
        "rows": rows,
        "seconds": round(loaded, 1),
        "rows_per_s": round(rows / loaded) if loaded else 0,
        "analyze_seconds": round(time.perf_counter() - started - loaded, 1),
    }
