"""`modelreg models ...` and `modelreg versions ...` against a live registry, each output
read back as JSON (or YAML), and the errors a person meets."""

from __future__ import annotations

import yaml

from tests.cli.conftest import CLI


def test_models_register_list_show(cli: CLI, name: str) -> None:
    r = cli(
        "models", "register", name, "--description", "card fraud", "--owner", "ana",
        "--meta", "team=risk", "--meta", "epochs=12", "--meta", "auc=0.93", "--meta", "live=true",
        "--meta", 'code="007"', "--label", "prod", "--output", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    m = r.json()
    assert (m["name"], m["owner"], m["description"], m["state"]) == (name, "ana", "card fraud", "LIVE")
    assert m["metadata"] == {"team": "risk", "epochs": 12, "auc": 0.93, "live": True, "code": "007"}
    assert m["labels"] == ["prod"]

    listed = cli("models", "list", "--filter", f"name = '{name}'", "--output", "json").json()
    assert [x["id"] for x in listed] == [m["id"]]
    assert cli("models", "show", name, "--output", "json").json() == m
    assert cli("models", "show", m["id"], "--output", "json").json()["name"] == name
    assert yaml.safe_load(cli("models", "show", name, "--output", "yaml").stdout)["metadata"]["epochs"] == 12

    table = cli("models", "show", name)
    assert table.exit_code == 0 and name in table.stdout and "team=risk" in table.stdout
    listing = cli("models", "list", "--filter", "owner = 'ana'", "--order-by", "name", "--desc")
    assert listing.exit_code == 0 and name in listing.stdout and "NAME" in listing.stdout


def test_models_list_order_and_limit(cli: CLI, name: str) -> None:
    for suffix in ("b", "a", "c"):
        assert cli("models", "register", f"{name}-{suffix}", "--owner", name).exit_code == 0
    query = ("models", "list", "--filter", f"owner = '{name}'", "--output", "json")
    assert [m["name"][-1] for m in cli(*query).json()] == ["b", "a", "c"]
    assert [m["name"][-1] for m in cli(*query, "--order-by", "name").json()] == ["a", "b", "c"]
    assert [m["name"][-1] for m in cli(*query, "--order-by", "name", "--desc", "--limit", "2").json()] == [
        "c",
        "b",
    ]


def test_models_update_archive_restore_delete(cli: CLI, name: str) -> None:
    cli("models", "register", name, "--meta", "a=1", "--meta", "b=2", "--label", "x", "--label", "y")
    r = cli(
        "models", "update", name, "--owner", "bo", "--meta", "c=3", "--unset", "a",
        "--label", "z", "--unlabel", "x", "--output", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    m = r.json()
    assert m["owner"] == "bo" and m["metadata"] == {"b": 2, "c": 3} and sorted(m["labels"]) == ["y", "z"]
    assert cli("models", "archive", name, "--output", "json").json()["state"] == "ARCHIVED"
    assert cli("models", "restore", name, "--output", "json").json()["state"] == "LIVE"

    kept = cli("models", "delete", name, input="n\n")
    assert kept.exit_code != 0
    assert cli("models", "show", name).exit_code == 0
    gone = cli("models", "delete", name, "--yes")
    assert gone.exit_code == 0 and "deleted" in gone.stderr
    missing = cli("models", "show", name)
    assert missing.exit_code == 1
    assert missing.error_lines == [f"error: no registered model named {name!r}"]


def test_models_register_with_a_version_is_idempotent(cli: CLI, name: str) -> None:
    args = ("models", "register", name, "--version", "1.0.0", "--uri", "s3://models/x", "--format", "onnx")
    first = cli(*args, "--meta", "auc=0.9", "--author", "ana", "--output", "json")
    assert first.exit_code == 0, first.stderr
    v = first.json()
    assert (v["name"], v["author"], v["metadata"]) == ("1.0.0", "ana", {"auc": 0.9})
    assert cli(*args, "--output", "json").json()["id"] == v["id"]
    clash = cli("models", "register", name, "--version", "1.0.0", "--uri", "s3://models/other")
    assert clash.exit_code == 1
    assert len(clash.error_lines) == 1 and "different content" in clash.error_lines[0]
    taken = cli("models", "register", name)
    assert taken.exit_code == 1 and len(taken.error_lines) == 1 and "already exists" in taken.stderr


def test_versions_commands(cli: CLI, name: str) -> None:
    for ver, auc in (("1", "0.8"), ("2", "0.95")):
        r = cli(
            "models", "register", name, "--version", ver, "--uri", f"s3://m/{ver}", "--meta", f"auc={auc}"
        )
        assert r.exit_code == 0, r.stderr
    listed = cli("versions", "list", name, "--output", "json").json()
    assert [v["name"] for v in listed] == ["1", "2"]
    assert [
        v["name"] for v in cli("versions", "list", name, "--filter", "auc > 0.9", "--output", "json").json()
    ] == ["2"]
    assert [v["name"] for v in cli("versions", "list", name, "--desc", "--output", "json").json()] == [
        "2",
        "1",
    ]
    assert cli("versions", "show", name, "--output", "json").json()["name"] == "2"  # latest
    shown = cli("versions", "show", name, "1")
    assert shown.exit_code == 0 and "s3://m/1" in shown.stdout and "auc=0.8" in shown.stdout

    r = cli(
        "versions",
        "update",
        name,
        "1",
        "--author",
        "bo",
        "--meta",
        "f1=0.5",
        "--label",
        "gold",
        "--output",
        "json",
    )
    v = r.json()
    assert v["author"] == "bo" and v["metadata"] == {"auc": 0.8, "f1": 0.5} and v["labels"] == ["gold"]
    assert cli("versions", "archive", name, "1", "--output", "json").json()["state"] == "ARCHIVED"
    assert cli("versions", "restore", name, "1", "--output", "json").json()["state"] == "LIVE"
    assert cli("versions", "delete", name, "1", "--yes").exit_code == 0
    missing = cli("versions", "show", name, "1")
    assert missing.exit_code == 1 and missing.error_lines == [
        f"error: registered model {name!r} has no version '1'"
    ]


def test_usage_errors_exit_2(cli: CLI, name: str) -> None:
    assert cli("models", "show").exit_code == 2
    bad_meta = cli("models", "register", name, "--meta", "no-equals-sign")
    assert bad_meta.exit_code == 2 and bad_meta.error_lines == [
        "error: --meta takes KEY=VALUE, got 'no-equals-sign'"
    ]
    assert cli("models", "list", "--output", "xml").exit_code == 2
    needs = cli("models", "register", name, "--version", "1")
    assert needs.exit_code == 2 and "exactly one of --uri or --path" in needs.stderr


def test_a_bad_filter_is_one_line_saying_where(cli: CLI) -> None:
    r = cli("models", "list", "--filter", "name = ")
    assert r.exit_code == 1
    assert len(r.error_lines) == 1 and "position" in r.error_lines[0]
