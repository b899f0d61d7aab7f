"""The README's "From a notebook" and "From a shell" examples, run as written against a
live registry (only its address is changed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
DOCUMENTED_URL = "http://127.0.0.1:8080"


def example(section: str, language: str) -> str:
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"```{language}\n(.*?)```", body, re.S)
    assert len(blocks) == 1, f"{section} should have one {language} example"
    return str(blocks[0])


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    model = tmp_path / "fraud-model"
    model.mkdir()
    (model / "model.onnx").write_bytes(os.urandom(300_000))
    (model / "config.json").write_text('{"threshold": 0.7}')
    return tmp_path


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _env(server: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    env["MODELREG_CONFIG_DIR"] = str(tmp_path / "config")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_from_a_notebook(server: str, workdir: Path) -> None:
    code = example("From a notebook", "python")
    assert DOCUMENTED_URL in code
    script = code.replace(DOCUMENTED_URL, server)
    for _ in range(2):  # registering again is a no-op
        r = subprocess.run(
            [sys.executable, "-c", script], cwd=workdir, capture_output=True, text=True, timeout=120,
            env=_env(server, workdir),
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
    assert _tree(workdir / "pulled") == _tree(workdir / "fraud-model")
    assert r.stdout.splitlines()[-1].startswith("file://")
    assert "2.0.0 {'auc': 0.95, 'epochs': 20} ['" in r.stdout


def test_from_a_shell(server: str, workdir: Path) -> None:
    script = example("From a shell", "sh")
    assert DOCUMENTED_URL in script
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace(DOCUMENTED_URL, server)],
        cwd=workdir, capture_output=True, text=True, timeout=300, env=_env(server, workdir),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _tree(workdir / "pulled") == _tree(workdir / "fraud-model")
    assert "nothing to upload" in r.stderr
    assert "fraud-detector" in (workdir / "models.json").read_text()
