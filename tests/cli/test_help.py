"""Every command explains itself with an example; shell completion works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from modelreg.cli import app
from tests.cli.conftest import CLI


def _paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        out += _paths(sub, (*prefix, name))
    return out


COMMANDS = _paths(typer.main.get_command(app))


def test_the_command_tree_is_complete() -> None:
    leaves = {" ".join(p) for p in COMMANDS}
    for expected in (
        "serve", "db upgrade", "db current", "login", "profiles list", "profiles use",
        "models list", "models show", "models register", "models update", "models archive",
        "models restore", "models delete", "versions list", "versions show", "versions update",
        "versions archive", "versions restore", "versions delete", "push", "pull", "resolve",
        "admin registries create", "admin registries list", "admin registries show",
        "admin registries update", "admin registries delete", "admin grants list", "admin grants add",
        "admin grants remove", "admin tokens create", "admin tokens list", "admin tokens revoke",
        "whoami", "history",
    ):  # fmt: skip
        assert expected in leaves


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "modelreg")
def test_help_has_an_example(cli: CLI, path: tuple[str, ...]) -> None:
    r = cli(*path, "--help")
    assert r.exit_code == 0, r.stderr
    assert "Example:" in r.stdout and "modelreg" in r.stdout.split("Example:")[1]


def _console_script() -> str:
    return str(Path(sys.executable).parent / "modelreg")


def test_show_completion() -> None:
    r = subprocess.run(
        [_console_script(), "--show-completion", "bash"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "_MODELREG_COMPLETE=complete_bash" in r.stdout and "complete " in r.stdout


def test_install_completion(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    r = subprocess.run(
        [_console_script(), "--install-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "_MODELREG_COMPLETE" in (tmp_path / ".bash_completions" / "modelreg.sh").read_text()
    assert "modelreg.sh" in (tmp_path / ".bashrc").read_text()


def _complete(words: str, server: str, config_dir: Path) -> list[str]:
    env = {
        **os.environ,
        "_MODELREG_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        "MODELREG_URL": server,
        "MODELREG_CONFIG_DIR": str(config_dir),
    }
    r = subprocess.run([_console_script()], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_completion_of_commands_and_model_names(cli: CLI, server: str, config_dir: Path, name: str) -> None:
    assert _complete("modelreg models li", server, config_dir) == ["list"]
    cli("models", "register", name)
    cli("models", "register", f"{name}-two")
    assert _complete(f"modelreg models show {name}", server, config_dir) == [name, f"{name}-two"]
