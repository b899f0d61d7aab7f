"""Registries, grants, tokens and history through the client, against a live registry that
requires a token, whose first admin token comes from `modelreg admin tokens create --local`."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from modelreg.api.app import create_app
from modelreg.cli import app as cli_app
from modelreg.client import (
    AsyncClient,
    Client,
    HistoryEvent,
    InvalidRequest,
    IssuedToken,
    NotFound,
    PermissionDenied,
    Token,
)
from modelreg.settings import Settings
from tests.client.conftest import CountingTransport, ThreadServer

ADMIN = "admin"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def bootstrap_token(data_dir: Path, user: str = ADMIN) -> str:
    """The first admin token, as an operator makes it: the CLI on the server's database."""
    r = CliRunner().invoke(
        cli_app,
        [
            "admin",
            "tokens",
            "create",
            "--user",
            user,
            "--local",
            "--data-dir",
            str(data_dir),
            "--output",
            "json",
        ],
        env={"MODELREG_DATABASE_URL": None, "MODELREG_DATA_DIR": None},
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.stderr
    secret = json.loads(r.stdout)["secret"]
    assert isinstance(secret, str) and secret.startswith("mrg_")
    return secret


@dataclass
class Guarded:
    url: str
    data_dir: Path
    admin: Client


@pytest.fixture
def guarded(migrated_template: Path, tmp_path: Path) -> Iterator[Guarded]:
    """A registry server with authentication on, `admin` its server admin."""
    data_dir = tmp_path / "guarded"
    shutil.copytree(migrated_template, data_dir)
    app = create_app(Settings(data_dir=data_dir, access_log=False, auth=True, admin_users=[ADMIN]))
    with ThreadServer(app) as url:
        token = bootstrap_token(data_dir)
        with Client(url, token) as admin:
            yield Guarded(url, data_dir, admin)


def team(g: Guarded, user: str, role: str = "editor") -> tuple[str, str]:
    """A new registry, `user` granted `role` in it, and a token of theirs."""
    name = unique("team")
    g.admin.create_registry(name, description="a team's models")
    g.admin.grant(name, user, role)
    return name, g.admin.create_token(user, name="laptop", expires_in=timedelta(days=30)).secret


def test_the_bootstrap_token_is_an_admins(guarded: Guarded) -> None:
    me = guarded.admin.whoami()
    assert (me.name, me.kind, me.admin, me.authenticated_by) == (ADMIN, "user", True, "token")
    issued = [e for e in guarded.admin.server_history(entity_type="token") if e.action == "issue"]
    assert issued and issued[-1].actor.startswith("local:")
    assert issued[-1].changes["user"] == {"before": None, "after": ADMIN}


def test_registries_create_list_show_update(guarded: Guarded) -> None:
    admin = guarded.admin
    name = unique("team")
    created = admin.create_registry(name, description="first")
    assert (created.name, created.description, created.managed) == (name, "first", True)
    assert created.created_at is not None and created.created_at.tzinfo is not None
    assert admin.get_registry(name).database == created.database
    assert admin.update_registry(name, description="second").description == "second"
    assert {r.name for r in admin.admin_registries()} >= {"default", name}
    mine = {r.name: r.role for r in admin.list_registries()}
    assert mine["default"] == "owner" and mine[name] == "owner"
    with pytest.raises(NotFound):
        admin.get_registry(unique("none"))
    with pytest.raises(InvalidRequest, match="registry name"):
        admin.get_registry("a/b")


def test_a_granted_user_works_in_their_registry_and_sees_no_other(guarded: Guarded) -> None:
    name, secret = team(guarded, "ana")
    grants = guarded.admin.list_grants(name)
    assert [(g.subject_kind, g.subject, g.role, g.created_by) for g in grants] == [
        ("user", "ana", "editor", ADMIN)
    ]
    with Client(guarded.url, secret, registry=name) as ana:
        assert ana.url == f"{guarded.url}/registries/{name}" and ana.registry == name
        assert ana.whoami().name == "ana"
        assert [(r.name, r.role) for r in ana.list_registries()] == [(name, "editor")]
        ana.create_model("fraud", owner="ana")
        assert [m.name for m in ana.list_models()] == ["fraud"]
        with pytest.raises(PermissionDenied):  # editors may not manage grants or tokens
            ana.create_token("ana")
    # The same registry named in the URL; the default registry is not hers: 404, not 403.
    with Client(f"{guarded.url}/registries/{name}/api/model_registry/v1", secret) as same:
        assert same.registry == name and same.get_model("fraud").owner == "ana"
    with Client(guarded.url, secret) as default, pytest.raises(NotFound, match="registry 'default'"):
        default.list_models().first()
    # The admin's default registry does not see her model.
    with pytest.raises(NotFound):
        guarded.admin.get_model("fraud")


def test_the_registry_named_twice_must_agree(guarded: Guarded) -> None:
    with pytest.raises(InvalidRequest, match="names registry 'a'"):
        Client(f"{guarded.url}/registries/a", registry="b")
    assert repr(Client(guarded.url, registry="b")) == f"Client({guarded.url!r}, registry='b')"


def test_grants_change_and_go(guarded: Guarded) -> None:
    admin = guarded.admin
    name, _ = team(guarded, "ana", "viewer")
    admin.grant(name, "ana", "owner")  # replaces the earlier role
    admin.grant(name, "data-science", "viewer", kind="group")
    admin.grant(name, "system:serviceaccount:ml:kserve", "viewer", kind="serviceaccount")
    held = {(g.subject_kind, g.subject): g.role for g in admin.list_grants(name)}
    assert held == {
        ("user", "ana"): "owner",
        ("group", "data-science"): "viewer",
        ("serviceaccount", "system:serviceaccount:ml:kserve"): "viewer",
    }
    admin.revoke_grant(name, "data-science", kind="group")
    assert ("group", "data-science") not in {(g.subject_kind, g.subject) for g in admin.list_grants(name)}
    with pytest.raises(NotFound):
        admin.revoke_grant(name, "data-science", kind="group")
    with pytest.raises(InvalidRequest, match="role must be one of"):
        admin.grant(name, "ana", "god")
    with pytest.raises(InvalidRequest, match="kind must be one of"):
        admin.grant(name, "ana", "viewer", kind="team")


def test_tokens_are_shown_once_listed_without_secret_and_revoked(guarded: Guarded) -> None:
    admin = guarded.admin
    name, _ = team(guarded, "bo")
    issued = admin.create_token("bo", name="ci", expires_in=3600)
    assert isinstance(issued, IssuedToken) and issued.secret.startswith(f"mrg_{issued.id}_")
    assert issued.secret not in repr(issued)
    assert issued.expires_at is not None
    assert timedelta(minutes=59) < issued.expires_at - issued.created_at <= timedelta(hours=1)
    listed = {t.id: t for t in admin.list_tokens("bo")}
    assert type(listed[issued.id]) is Token and listed[issued.id].active
    assert "secret" not in listed[issued.id].model_dump()
    assert all(t.user == "bo" for t in listed.values())
    with Client(guarded.url, issued.secret, registry=name) as bo:
        assert bo.whoami().name == "bo"
        revoked = admin.revoke_token(issued.id)
        assert revoked.revoked_at is not None and not revoked.active
        with pytest.raises(PermissionDenied, match="unknown, expired or revoked"):
            bo.whoami()
    with pytest.raises(InvalidRequest, match="at least one second"):
        admin.create_token("bo", expires_in=0)


def test_history_pages_filters_and_exports(guarded: Guarded) -> None:
    name, secret = team(guarded, "cy")
    transport = CountingTransport()
    with Client(guarded.url, secret, registry=name, transport=transport) as cy:
        started = datetime.now(UTC) - timedelta(seconds=5)
        cy.create_model("churn", description="v0")
        for i in range(3):
            cy.update_model("churn", description=f"v{i + 1}")
        cy.register_model("churn", "1.0.0", uri="s3://m/churn/1")
        cy.archive("churn", "1.0.0")

        events = list(cy.history(page_size=2))
        assert all(isinstance(e, HistoryEvent) and e.registry == name and e.actor == "cy" for e in events)
        assert transport.count("GET", "/api/modelreg/v1/history") >= 3  # paged, transparently
        assert [e.id for e in events] == sorted((e.id for e in events), key=int, reverse=True)

        model = list(cy.model_history("churn"))
        assert [e.action for e in model] == ["update"] * 3 + ["create"]
        assert model[0].changes == {"description": {"before": "v2", "after": "v3"}}
        assert [e.action for e in cy.model_history("churn", oldest_first=True, limit=2)] == [
            "create",
            "update",
        ]
        version = list(cy.version_history("churn", "1.0.0"))
        assert [e.action for e in version] == ["archive", "create"]
        assert version[0].changes["state"] == {"before": "LIVE", "after": "ARCHIVED"}

        assert {e.entity_type for e in cy.history(entity_type="model_version")} == {"model_version"}
        assert [e.action for e in cy.history(action="archive")] == ["archive"]
        assert len(list(cy.history(since=started))) == len(events)
        assert list(cy.history(until=started)) == []
        assert list(cy.history(actor="someone-else")) == []
        assert len(list(cy.history(since=started.isoformat(), limit=3))) == 3

        exported = list(cy.export_history())
        assert exported == events
        assert transport.count("GET", "/api/modelreg/v1/history") >= 4
        assert [e.action for e in cy.export_history(model="churn", limit=2)] == ["update", "update"]
        with pytest.raises(NotFound):
            list(cy.model_history("nope"))
        with pytest.raises(PermissionDenied):  # the server's own history is for admins
            list(cy.server_history())
    grant_events = list(guarded.admin.server_history(registry=name, entity_type="grant"))
    assert [(e.action, e.entity_name, e.actor) for e in grant_events] == [("grant", "cy", ADMIN)]


def test_deleting_a_registry_asks_for_its_name(guarded: Guarded) -> None:
    admin = guarded.admin
    kept, _ = team(guarded, "di")
    with pytest.raises(InvalidRequest, match="confirm with its name"):
        admin.delete_registry(kept, "something-else")
    assert admin.get_registry(kept).name == kept
    message = admin.delete_registry(kept, kept)
    assert "data is kept" in message
    assert (guarded.data_dir / "registries" / f"{kept}.db").exists()
    with pytest.raises(NotFound):
        admin.get_registry(kept)
    purged, _ = team(guarded, "di")
    assert "removed" in admin.delete_registry(purged, purged, purge=True)
    assert not (guarded.data_dir / "registries" / f"{purged}.db").exists()


@pytest.mark.anyio
async def test_the_async_client_administers_too(migrated_template: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "guarded"
    shutil.copytree(migrated_template, data_dir)
    app = create_app(Settings(data_dir=data_dir, access_log=False, auth=True, admin_users=[ADMIN]))
    token = bootstrap_token(data_dir)
    name = unique("team")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://registry.test", token, transport=transport) as admin:
            assert (await admin.whoami()).admin
            await admin.create_registry(name)
            await admin.grant(name, "eve", "editor")
            assert [g.subject for g in await admin.list_grants(name)] == ["eve"]
            issued = await admin.create_token("eve")
            assert [t.id for t in await admin.list_tokens("eve")] == [issued.id]
            async with AsyncClient(
                "http://registry.test", issued.secret, registry=name, transport=transport
            ) as eve:
                await eve.create_model("fraud")
                await eve.update_model("fraud", description="d")
                events = await eve.model_history("fraud").to_list()
                assert [e.action for e in events] == ["update", "create"]
                assert [e.action async for e in eve.history(limit=1)] == ["update"]
                lines = [e async for e in eve.export_history(model="fraud")]
                assert lines == events
                await admin.revoke_token(issued.id)
                with pytest.raises(PermissionDenied):
                    await eve.whoami()
            tokens = [e async for e in admin.export_history(server=True, entity_type="token")]
            assert [e.action for e in tokens][:2] == ["revoke", "issue"]
            assert "kept" in await admin.delete_registry(name, name)
