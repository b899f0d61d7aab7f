"""SQLite's one writer at a time, across threads and processes, seen through the API.

Writers queue for their turn (a lock per database file, shared by every process that
opens it) instead of sleeping in SQLite's busy handler; small writes run on the event
loop when the turn is free; reads keep their connection. These tests hold the turn from
another process, write from several workers at once, and change rows behind a kept
connection's back, and check what a client sees.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.cli.conftest import serving

V1 = "/api/model_registry/v1"

# Another process: takes a write turn, writes a model, holds the turn for `hold` seconds.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import text
    from modelreg.service.registry import open_database
    from modelreg.settings import Settings

    db = open_database(Settings(data_dir=sys.argv[1]))
    with db.unit_of_work() as session:
        session.execute(text("SELECT 1"))
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
    db.dispose()
    """
)


def _model(client: TestClient | httpx.Client, name: str) -> httpx.Response:
    return client.post(f"{V1}/registered_models", json={"name": name})


def test_a_write_waits_while_another_process_holds_the_database(sqlite_client: TestClient) -> None:
    data_dir = sqlite_client.app.state.settings.data_dir  # type: ignore[attr-defined]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), "1.0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        created = _model(sqlite_client, "waited")
        waited = time.monotonic() - started
        assert holder.stdout.readline().strip() == "released"
    finally:
        holder.wait(timeout=30)
    assert created.status_code == 201, created.text
    # It neither failed with "database is locked" nor went in while the other held the turn.
    assert waited >= 0.5
    assert sqlite_client.get(f"{V1}/registered_model", params={"name": "waited"}).status_code == 200


def test_reads_see_what_other_connections_commit(sqlite_client: TestClient) -> None:
    created = _model(sqlite_client, "seen").json()
    assert sqlite_client.get(f"{V1}/registered_models/{created['id']}").json().get("description") is None
    listed = sqlite_client.get(f"{V1}/registered_models").json()["items"]
    assert [m["name"] for m in listed] == ["seen"]
    # Another process changes the row and adds one; the kept read connections see both.
    data_dir = sqlite_client.app.state.settings.data_dir  # type: ignore[attr-defined]
    with serving(data_dir) as url, httpx.Client(base_url=url) as remote:
        patched = remote.patch(f"{V1}/registered_models/{created['id']}", json={"description": "changed"})
        assert patched.status_code == 200, patched.text
        assert _model(remote, "added").status_code == 201
    assert sqlite_client.get(f"{V1}/registered_models/{created['id']}").json()["description"] == "changed"
    found = sqlite_client.get(f"{V1}/registered_model", params={"name": "added"})
    assert found.status_code == 200
    listed = sqlite_client.get(f"{V1}/registered_models").json()["items"]
    assert sorted(m["name"] for m in listed) == ["added", "seen"]


def test_many_writers_in_several_workers_all_land(tmp_path: Path) -> None:
    with serving(tmp_path, MODELREG_WORKERS="2") as url:

        def register(i: int) -> list[int]:
            codes = []
            with httpx.Client(base_url=url, timeout=30) as c:
                for j in range(15):
                    made = _model(c, f"m-{i}-{j}")
                    codes.append(made.status_code)
                    if made.status_code == 201:
                        body = {"name": "v1", "registeredModelId": made.json()["id"]}
                        codes.append(c.post(f"{V1}/model_versions", json=body).status_code)
            return codes

        with ThreadPoolExecutor(8) as pool:
            codes = [code for batch in pool.map(register, range(8)) for code in batch]
        assert codes == [201] * 240
        with httpx.Client(base_url=url) as c:
            listed = c.get(f"{V1}/model_versions", params={"pageSize": 500}).json()
        assert listed["size"] == 120
