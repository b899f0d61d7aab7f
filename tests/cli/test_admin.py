"""`modelreg admin ...`, `whoami`, `history` and `--registry` against a live `modelreg serve`
that requires a token, its first admin token minted with `admin tokens create --local`."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from modelreg.cli import app
from tests.cli.conftest import CLI, MODELREG, Run, serving

ADMIN = "admin"


@dataclass(frozen=True)
class Guarded:
    url: str
    data_dir: Path
    admin_token: str


def _bootstrap(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`modelreg admin tokens create --local`, as the operator runs it on the server's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    return subprocess.run(
        [*MODELREG, "admin", "tokens", "create", "--user", ADMIN, "--name", "bootstrap", "--local",
         "--data-dir", str(data_dir), "--output", "json"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    data_dir = tmp_path_factory.mktemp("guarded-data")
    with serving(data_dir, MODELREG_AUTH="true", MODELREG_ADMIN_USERS=ADMIN) as url:
        r = _bootstrap(data_dir)
        assert r.returncode == 0, r.stderr
        assert "only time the token is shown" in r.stderr
        yield Guarded(url, data_dir, json.loads(r.stdout)["secret"])


@pytest.fixture
def as_admin(cli: CLI, guarded: Guarded) -> CLI:
    """The CLI against the guarded server, with the admin's token."""

    def invoke(*args: str, input: str | None = None, **env: str | None) -> Run:
        given = {"MODELREG_URL": guarded.url, "MODELREG_TOKEN": guarded.admin_token, **env}
        return cli(*args, input=input, **given)

    return invoke


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_team(as_admin: CLI, user: str, role: str = "editor") -> tuple[str, str]:
    """A new registry, `user` granted `role` in it, and a new token of theirs."""
    name = unique("team")
    assert as_admin("admin", "registries", "create", name, "--description", "a team").exit_code == 0
    added = as_admin("admin", "grants", "add", name, "--user", user, "--role", role)
    assert added.exit_code == 0, added.stderr
    assert f"user '{user}' is now {role} of registry '{name}'" in added.stderr
    token = as_admin("admin", "tokens", "create", "--user", user, "--name", "laptop", "--expires", "30d",
                     "--output", "json")  # fmt: skip
    assert token.exit_code == 0, token.stderr
    return name, token.json()["secret"]


def test_the_bootstrap_token_makes_an_admin(as_admin: CLI, guarded: Guarded) -> None:
    me = as_admin("whoami", "--output", "json").json()
    assert (me["name"], me["admin"], me["authenticated_by"]) == (ADMIN, True, "token")
    assert {"name": "default", "role": "owner"} in me["registries"]
    assert re.search(r"server admin +yes", as_admin("whoami").stdout)
    # As a table, the secret is on stdout once, and the warning on stderr; the bootstrap
    # works while the server runs, as often as needed.
    shown = as_admin(
        "admin", "tokens", "create", "--user", ADMIN, "--local", "--data-dir", str(guarded.data_dir)
    )
    assert shown.exit_code == 0 and "only time the token is shown" in shown.stderr
    secret = shown.stdout.strip().splitlines()[-1]
    assert secret.startswith("mrg_") and shown.stdout.count(secret) == 1
    assert as_admin("whoami", MODELREG_TOKEN=secret).exit_code == 0
    # No token is ever listed with its secret.
    listed = as_admin("admin", "tokens", "list", "--user", ADMIN, "--output", "json").json()
    assert len(listed) >= 2 and all("secret" not in t for t in listed)
    assert all(t["created_by"].startswith("local:") for t in listed)


def test_bootstrap_refuses_a_directory_without_the_servers_database(as_admin: CLI, tmp_path: Path) -> None:
    empty = tmp_path / "not-the-server"
    r = as_admin("admin", "tokens", "create", "--user", ADMIN, "--local", "--data-dir", str(empty))
    assert r.exit_code == 2 and len(r.error_lines) == 1
    assert r.error_lines[0].startswith(f"error: there is no modelreg database in {empty}")
    assert not empty.exists()
    mixed = as_admin("admin", "tokens", "create", "--user", ADMIN, "--data-dir", str(empty))
    assert mixed.exit_code == 2 and mixed.error_lines == [
        "error: --data-dir and --database-url go with --local"
    ]


def test_create_grant_mint_and_use_with_registry(as_admin: CLI, guarded: Guarded, config_dir: Path) -> None:
    name, secret = make_team(as_admin, "ana")
    ana = {"MODELREG_URL": guarded.url, "MODELREG_TOKEN": secret}
    assert as_admin("--registry", name, "models", "register", "fraud", "--owner", "ana", **ana).exit_code == 0
    listed = as_admin("--registry", name, "models", "list", "--output", "json", **ana).json()
    assert [m["name"] for m in listed] == ["fraud"]
    # MODELREG_REGISTRY does the same; without either, the default registry is not hers.
    assert as_admin("models", "show", "fraud", MODELREG_REGISTRY=name, **ana).exit_code == 0
    other = as_admin("models", "list", **ana)
    assert other.exit_code == 1 and other.error_lines == ["error: registry 'default' not found"]
    me = as_admin("whoami", "--output", "yaml", **ana)
    assert "name: ana" in me.stdout and f"- name: {name}\n  role: editor" in me.stdout
    assert [r["name"] for r in as_admin("admin", "registries", "list", "--output", "json", **ana).json()] == [
        name
    ]
    # An editor manages neither grants nor tokens.
    denied = as_admin("admin", "grants", "list", name, **ana)
    assert denied.exit_code == 4 and len(denied.error_lines) == 1
    assert as_admin("admin", "tokens", "list", **ana).exit_code == 4
    # `login --registry` saves the registry in the profile; commands then use it.
    login = as_admin("login", guarded.url, "--token", secret, "--registry", name, MODELREG_URL=None,
                     MODELREG_TOKEN=None)  # fmt: skip
    assert login.exit_code == 0, login.stderr
    saved = json.loads((config_dir / "config.json").read_text())["profiles"]["default"]
    assert saved == {"url": guarded.url, "token": secret, "registry": name}
    assert as_admin("models", "show", "fraud", MODELREG_URL=None, MODELREG_TOKEN=None).exit_code == 0
    profiles = as_admin("profiles", "list", "--output", "json").json()
    assert profiles[0]["registry"] == name


def test_registries_show_update_list(as_admin: CLI) -> None:
    name = unique("team")
    created = as_admin("admin", "registries", "create", name, "--output", "json")
    assert created.exit_code == 0 and created.json()["managed"] is True
    updated = as_admin(
        "admin", "registries", "update", name, "--description", "new words", "--output", "yaml"
    )
    assert "description: new words" in updated.stdout
    shown = as_admin("admin", "registries", "show", name)
    assert "new words" in shown.stdout and "made by the server" in shown.stdout
    assert name in as_admin("admin", "registries", "list").stdout
    missing = as_admin("admin", "registries", "show", unique("none"))
    assert missing.exit_code == 1 and len(missing.error_lines) == 1
    taken = as_admin("admin", "registries", "create", name)
    assert taken.exit_code == 1 and "already exists" in taken.error_lines[0]


def test_grants_list_add_remove(as_admin: CLI) -> None:
    name, _ = make_team(as_admin, "bo", "viewer")
    assert as_admin("admin", "grants", "add", name, "--group", "ds", "--role", "viewer").exit_code == 0
    sa = "system:serviceaccount:ml:kserve"
    assert (
        as_admin("admin", "grants", "add", name, "--service-account", sa, "--role", "viewer").exit_code == 0
    )
    assert as_admin("admin", "grants", "add", name, "--user", "bo", "--role", "owner").exit_code == 0
    grants = as_admin("admin", "grants", "list", name, "--output", "json").json()
    assert {(g["subject_kind"], g["subject"], g["role"]) for g in grants} == {
        ("user", "bo", "owner"), ("group", "ds", "viewer"), ("serviceaccount", sa, "viewer"),
    }  # fmt: skip
    assert sa in as_admin("admin", "grants", "list", name).stdout
    removed = as_admin("admin", "grants", "remove", name, "--group", "ds", "--output", "json")
    assert removed.json() == {"registry": name, "subjectKind": "group", "subject": "ds", "removed": True}
    again = as_admin("admin", "grants", "remove", name, "--group", "ds")
    assert again.exit_code == 1 and again.error_lines == [
        f"error: group 'ds' holds no role in registry '{name}'"
    ]
    both = as_admin("admin", "grants", "add", name, "--user", "a", "--group", "b", "--role", "viewer")
    assert both.exit_code == 2 and both.error_lines == [
        "error: give exactly one of --user, --group or --service-account"
    ]
    assert as_admin("admin", "grants", "add", name, "--user", "a", "--role", "god").exit_code == 2


def test_history_lists_and_exports(as_admin: CLI, guarded: Guarded) -> None:
    name, secret = make_team(as_admin, "cy")
    cy = {"MODELREG_URL": guarded.url, "MODELREG_TOKEN": secret, "MODELREG_REGISTRY": name}
    assert (
        as_admin("models", "register", "churn", "--version", "1.0.0", "--uri", "s3://m/1", **cy).exit_code
        == 0
    )
    assert as_admin("models", "update", "churn", "--description", "better", **cy).exit_code == 0
    assert as_admin("versions", "archive", "churn", "1.0.0", **cy).exit_code == 0

    events = as_admin("history", "--output", "json", **cy).json()
    assert {e["actor"] for e in events} == {"cy"} and {e["registry"] for e in events} == {name}
    assert events[0]["action"] == "archive" and events[0]["entity_type"] == "model_version"
    table = as_admin("history", **cy).stdout
    assert "state: LIVE -> ARCHIVED" in table and "description: (none) -> better" in table

    model = as_admin("history", "--model", "churn", "--output", "json", **cy).json()
    assert [e["action"] for e in model] == ["update", "create"]
    assert model[0]["changes"] == {"description": {"before": None, "after": "better"}}
    version = as_admin("history", "--model", "churn", "--version", "1.0.0", "--output", "yaml", **cy)
    assert version.stdout.count("- id:") == 2 and "action: archive" in version.stdout

    assert len(as_admin("history", "--limit", "1", "--output", "json", **cy).json()) == 1
    typed = as_admin("history", "--type", "registered_model", "--output", "json", **cy).json()
    assert {e["entity_type"] for e in typed} == {"registered_model"}
    assert as_admin("history", "--actor", "nobody", "--output", "json", **cy).json() == []
    assert len(as_admin("history", "--since", "1h", "--output", "json", **cy).json()) == len(events)
    assert as_admin("history", "--until", "2000-01-01T00:00:00Z", "--output", "json", **cy).json() == []
    oldest = as_admin("history", "--oldest-first", "--limit", "1", "--output", "json", **cy).json()
    assert oldest[0]["action"] == "create"

    jsonl = as_admin("history", "--output", "jsonl", **cy)
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert lines == events  # the same events as --output json, one a line
    assert lines[0]["entity_type"] == "model_version" and lines[0]["request_id"]
    one = as_admin("history", "--model", "churn", "--output", "jsonl", "--limit", "1", **cy).stdout
    assert [json.loads(line)["action"] for line in one.splitlines()] == ["update"]

    # The server's own history: the grant and the token, for admins only.
    server = as_admin("history", "--server", "--type", "grant", "--output", "json").json()
    assert any(e["entity_name"] == "cy" and e["registry"] == name for e in server)
    tokens = as_admin("history", "--server", "--type", "token", "--output", "jsonl").stdout.splitlines()
    assert any(json.loads(line)["actor"].startswith("local:") for line in tokens)
    assert as_admin("history", "--server", **cy).exit_code == 4
    bad = as_admin("history", "--version", "1.0.0", **cy)
    assert bad.exit_code == 2 and bad.error_lines == ["error: --version needs --model"]
    wrong = as_admin("history", "--since", "yesterday", **cy)
    assert wrong.exit_code == 1 and "ISO 8601" in wrong.error_lines[0]


def test_a_revoked_token_is_refused_with_exit_4(as_admin: CLI, guarded: Guarded, sh: CLI) -> None:
    name, secret = make_team(as_admin, "di")
    di = {"MODELREG_URL": guarded.url, "MODELREG_TOKEN": secret, "MODELREG_REGISTRY": name}
    assert as_admin("models", "list", **di).exit_code == 0
    token_id = secret.split("_")[1]
    revoked = as_admin("admin", "tokens", "revoke", token_id, "--output", "json")
    assert revoked.exit_code == 0 and revoked.json()["revoked_at"] is not None
    r = sh("models", "list", **di)
    assert r.exit_code == 4 and r.stdout == ""
    assert r.error_lines == [
        "error: the token is not valid: it is unknown, expired or revoked "
        f"(401 from {guarded.url}/registries/{name}/api/model_registry/v1/registered_models; check the token)"
    ]
    state = as_admin("admin", "tokens", "list", "--user", "di")
    assert "revoked" in state.stdout


def test_delete_a_registry_with_and_without_confirmation(as_admin: CLI, guarded: Guarded) -> None:
    name, _ = make_team(as_admin, "eve")
    data = guarded.data_dir / "registries" / f"{name}.db"
    # Asked for its name: nothing typed, or the wrong name, deletes nothing.
    aborted = as_admin("admin", "registries", "delete", name)
    assert aborted.exit_code == 1
    assert f"its data is kept in sqlite:///{data}" in aborted.stderr
    wrong = as_admin("admin", "registries", "delete", name, input="not-it\n")
    assert wrong.exit_code == 1
    assert wrong.error_lines[-1].endswith(
        f"error: to delete registry '{name}', confirm with its name, exactly"
    )
    mismatch = as_admin("admin", "registries", "delete", name, "--confirm", "x")
    assert mismatch.exit_code == 1
    assert mismatch.error_lines[-1] == f"error: to delete registry '{name}', confirm with its name, exactly"
    assert as_admin("admin", "registries", "show", name).exit_code == 0
    # Typed right: deleted, its data kept.
    typed = as_admin("admin", "registries", "delete", name, input=f"{name}\n")
    assert typed.exit_code == 0, typed.stderr
    assert f"registry '{name}' deleted; its data is kept in" in typed.stderr
    assert data.exists()
    assert as_admin("admin", "registries", "show", name).exit_code == 1
    # --confirm asks nothing; --purge removes the data.
    purged, _ = make_team(as_admin, "eve")
    gone = as_admin(
        "admin", "registries", "delete", purged, "--confirm", purged, "--purge", "--output", "json"
    )
    assert gone.exit_code == 0, gone.stderr
    assert "will be removed for good" in gone.stderr
    assert gone.json() == {
        "registry": purged,
        "purged": True,
        "message": f"registry '{purged}' deleted, and its database and files removed",
    }
    assert not (guarded.data_dir / "registries" / f"{purged}.db").exists()
    missing = as_admin("admin", "registries", "delete", name, "--confirm", name)
    assert missing.exit_code == 1 and missing.error_lines == [f"error: registry '{name}' not found"]


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_commands(section: str) -> list[list[str]]:
    body = README.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    out = []
    for block in re.findall(r"```sh\n(.*?)```", body, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "modelreg":
                cut = [i for i, w in enumerate(words) if w in (">", "&")]
                out.append(words[1 : cut[0]] if cut else words[1:])
    return out


def _parse(args: list[str]) -> str:
    """Parse a command line as `modelreg` would, without running it; its command path."""
    command = typer.main.get_command(app)
    ctx = command.make_context("modelreg", list(args))
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        assert command is not None and name is not None
        ctx = command.make_context(name, rest, parent=ctx)
    return str(ctx.command_path)


@pytest.mark.parametrize("section", ["Access control and several registries", "History"])
def test_the_readme_commands_parse(section: str) -> None:
    commands = _readme_commands(section)
    assert len(commands) >= 7
    for args in commands:  # each parses (options, values, choices) as `modelreg` would
        assert _parse(args).startswith("modelreg ")
