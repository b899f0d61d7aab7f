"""Operability: probes, request ids, access logs, body limit, a database that goes away, and
one that was never migrated."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from modelreg.store.engine import normalize_url
from tests.conftest import BACKENDS, SERVER_URLS, V1, V1ALPHA3, database_url
from tests.tcp_proxy import TcpProxy


def test_probes(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    r = client.get("/readyz/health", params={"format": "json"})
    assert r.status_code == 200
    assert r.json() == {"status": "pass", "checks": {"database": "pass", "schema": "pass"}}
    assert client.get("/readyz/health").text == "OK"
    assert client.get("/readyz/isDirty").status_code == 200


def test_openapi_document_and_docs(sqlite_client: TestClient) -> None:
    doc = sqlite_client.get("/openapi.json").json()
    paths = doc["paths"]
    kubeflow = [p for p in paths if not p.endswith("/history")]  # history is our addition
    assert len([p for p in kubeflow if p.startswith(V1ALPHA3 + "/")]) == 34
    assert len([p for p in kubeflow if p.startswith(V1 + "/")]) == 24
    body = paths[f"{V1}/registered_models"]["post"]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "name" in doc["components"]["schemas"][ref]["properties"]
    docs = sqlite_client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI from the package, nothing from a CDN: a closed network still gets it.
    assert "cdn" not in docs.text and "http" not in docs.text.replace("http-equiv", "")
    for asset in ("/ui/static/vendor/swagger-ui-bundle.js", "/ui/static/vendor/swagger-ui.css"):
        assert asset in docs.text
        got = sqlite_client.get(asset)
        assert got.status_code == 200 and len(got.content) > 100_000


def test_request_id_is_kept_or_made(sqlite_client: TestClient) -> None:
    r = sqlite_client.get(f"{V1}/registered_models", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = sqlite_client.get(f"{V1}/registered_models").headers["x-request-id"]
    assert len(made) == 32
    hostile = sqlite_client.get(f"{V1}/registered_models", headers={"X-Request-ID": "a b\tc"})
    assert hostile.headers["x-request-id"] != "a b\tc"


def test_access_log_is_one_json_line_per_request(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = Settings(data_dir=tmp_path)
    upgrade_schema(s)
    with TestClient(create_app(s)) as c, caplog.at_level(logging.INFO, logger="modelreg.access"):
        c.get(f"{V1}/registered_models/42", headers={"X-Request-ID": "log-me"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "modelreg.access"]
    assert lines[-1]["request_id"] == "log-me"
    assert lines[-1]["status"] == 404
    assert lines[-1]["path"] == f"{V1}/registered_models/42"


def test_served_access_log_writes_every_line_whole_and_in_order(tmp_path: Path) -> None:
    """`modelreg serve`'s log set-up, where the access log skips LogRecords and writes a
    loop turn's lines at once: each request still gets its one line, whole."""
    from concurrent.futures import ThreadPoolExecutor

    from modelreg.api.log_stream import BatchedStreamHandler
    from modelreg.cli._server import _log_config

    config = _log_config("info")
    access = config["handlers"]["access"]
    assert config["loggers"]["modelreg.access"] == {
        "handlers": ["access"],
        "level": "INFO",
        "propagate": False,
    }
    assert access["class"] == "modelreg.api.log_stream.BatchedStreamHandler"
    stream = io.StringIO()
    handler = BatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter(config["formatters"][access["formatter"]]["format"]))
    logger = logging.getLogger("modelreg.access")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        s = Settings(data_dir=tmp_path)
        upgrade_schema(s)
        with TestClient(create_app(s)) as c:
            for i in range(5):
                c.get(f"{V1}/registered_models/{i + 1}", headers={"X-Request-ID": f"one-{i}"})
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: c.get("/livez", headers={"X-Request-ID": f"many-{i}"}), range(200)))
        handler.flush()
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])
    ids = [line["request_id"] for line in lines]
    assert ids[:5] == [f"one-{i}" for i in range(5)]  # one at a time: in order
    assert sorted(ids[5:]) == sorted(f"many-{i}" for i in range(200))
    assert {line["status"] for line in lines[:5]} == {404}


def test_body_over_the_limit_is_413_and_writes_nothing(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, max_body_bytes=1024, access_log=False)
    upgrade_schema(s)
    with TestClient(create_app(s)) as c:
        big = {"name": "big", "description": "x" * 4096}
        r = c.post(f"{V1}/registered_models", json=big)
        assert r.status_code == 413
        assert r.json()["code"] == "Request Entity Too Large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"name": "big", "description": "'
            for _ in range(8):
                yield b"x" * 512
            yield b'"}'

        r = c.post(f"{V1}/registered_models", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert c.get(f"{V1}/registered_models").json()["size"] == 0


def test_unknown_path_and_method(sqlite_client: TestClient) -> None:
    r = sqlite_client.get(f"{V1}/no_such_thing")
    assert r.status_code == 404
    assert set(r.json()) == {"code", "message"}
    r = sqlite_client.put(f"{V1}/registered_models")
    assert r.status_code == 405
    assert set(r.json()) == {"code", "message"}


@pytest.fixture
def postgres_behind_proxy() -> Iterator[tuple[str, TcpProxy]]:
    admin_url = normalize_url(SERVER_URLS["postgresql"])
    name = f"modelreg_down_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        from tests.conftest import _unreachable

        _unreachable("postgresql", exc)
    u = make_url(admin_url)
    proxy = TcpProxy((u.host or "127.0.0.1", u.port or 5432))
    url = u.set(database=name, host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield url, proxy
    proxy.cut()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_database_down_is_503_and_recovers(
    tmp_path: Path, postgres_behind_proxy: tuple[str, TcpProxy]
) -> None:
    url, proxy = postgres_behind_proxy
    s = Settings(data_dir=tmp_path, database_url=url, access_log=False)
    upgrade_schema(s)
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        r = c.post(f"{V1}/registered_models", json={"name": "before"})
        assert r.status_code == 201
        model = r.json()["id"]
        # Gets and finds by key have connections of their own (awaited on the event loop).
        assert c.get(f"{V1}/registered_models/{model}").status_code == 200
        assert c.get(f"{V1}/registered_model", params={"name": "before"}).status_code == 200
        proxy.cut()
        for method, path, body in (
            ("GET", f"{V1}/registered_models", None),
            ("POST", f"{V1}/registered_models", {"name": "during"}),
            ("GET", f"{V1}/registered_models/{model}", None),
            ("GET", f"{V1}/registered_model?name=before", None),
        ):
            r = c.request(method, path, json=body)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "Service Unavailable"
        assert c.get("/readyz/health").status_code == 503
        assert c.get("/livez").status_code == 200
        back = TcpProxy(proxy.target, proxy.port)  # the database returns
        try:
            r = c.get(f"{V1}/registered_models")
            assert r.status_code == 200
            assert [m["name"] for m in r.json()["items"]] == ["before"]
            assert c.get(f"{V1}/registered_models/{model}").json()["name"] == "before"
            assert c.get(f"{V1}/registered_model", params={"name": "before"}).json()["id"] == model
            assert c.post(f"{V1}/registered_models", json={"name": "after"}).status_code == 201
            r = c.patch(f"{V1}/registered_models/{model}", json={"description": "back"})
            assert r.status_code == 200 and r.json()["description"] == "back"
            assert c.get("/readyz/health").status_code == 200
        finally:
            back.cut()


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_database_never_migrated_answers_503_naming_the_upgrade(
    backend_name: str, tmp_path: Path, worker_id_safe: str
) -> None:
    for url in database_url(backend_name, worker_id_safe):
        s = Settings(data_dir=tmp_path, database_url=url, access_log=False)
        with TestClient(create_app(s), raise_server_exceptions=False) as c:
            for method, path, body in (
                ("GET", f"{V1}/registered_models", None),
                ("GET", f"{V1}/registered_models/1", None),
                ("GET", f"{V1}/registered_model?name=m", None),
                ("POST", f"{V1}/registered_models", {"name": "m"}),
                ("PATCH", f"{V1}/registered_models/1", {"description": "d"}),
                ("GET", f"{V1}/model_versions?filterQuery=name%3D%27v%27", None),
            ):
                r = c.request(method, path, json=body)
                assert r.status_code == 503, (method, path, r.text)
                assert "modelreg db upgrade" in r.json()["message"]
            upgrade_schema(s)
            assert c.post(f"{V1}/registered_models", json={"name": "m"}).status_code == 201
            assert c.get(f"{V1}/registered_model", params={"name": "m"}).status_code == 200
