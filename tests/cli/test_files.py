"""`modelreg push`, `pull` and `resolve`: files in, the same bytes out."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import CLI


def model_dir(root: Path, weights: bytes = b"\x01\x02" * 300_000) -> Path:
    d = root / "model"
    (d / "tokenizer").mkdir(parents=True, exist_ok=True)
    (d / "model.onnx").write_bytes(weights)
    (d / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    return d


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_push_twice_then_pull(cli: CLI, name: str, tmp_path: Path) -> None:
    src = model_dir(tmp_path)
    r = cli(
        "push", str(src), "--model", name, "--version", "1.0.0", "--format", "onnx",
        "--meta", "auc=0.93", "--label", "candidate", "--author", "ana", "--progress", "--output", "json",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    v = r.json()
    assert (v["name"], v["author"], v["metadata"], v["labels"]) == (
        "1.0.0",
        "ana",
        {"auc": 0.93},
        ["candidate"],
    )
    assert "/s" in r.stderr and "uploaded 600.0 kB" in r.stderr  # the bar's rate, then the summary

    again = cli("push", str(src), "--model", name, "--version", "1.0.0", "--progress", "--output", "json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["id"] == v["id"]
    assert "nothing to upload" in again.stderr and "/s" not in again.stderr  # no bar: no bytes moved

    out = tmp_path / "pulled"
    pulled = cli("pull", f"{name}:1.0.0", "-o", str(out), "--output", "json")
    assert pulled.exit_code == 0, pulled.stderr
    assert tree(out) == tree(src)
    manifest = pulled.json()
    assert sorted(f["path"] for f in manifest["files"]) == ["model.onnx", "tokenizer/vocab.txt"]
    assert manifest["total_size"] == 600_004

    table = cli("pull", name, "-o", str(tmp_path / "latest"))
    assert table.exit_code == 0 and "model.onnx" in table.stdout and "verified" in table.stderr
    assert tree(tmp_path / "latest") == tree(src)
    by_uri = cli("pull", f"model-registry://{name}/1.0.0", "-o", str(tmp_path / "by-uri"))
    assert by_uri.exit_code == 0, by_uri.stderr
    assert tree(tmp_path / "by-uri") == tree(src)
    by_option = cli("pull", name, "--version", "1.0.0", "-o", str(tmp_path / "by-option"), "--progress")
    assert by_option.exit_code == 0 and tree(tmp_path / "by-option") == tree(src)
    assert "/s" in by_option.stderr


def test_push_different_files_under_a_version_is_refused(cli: CLI, name: str, tmp_path: Path) -> None:
    assert cli("push", str(model_dir(tmp_path / "a")), "--model", name, "--version", "1").exit_code == 0
    r = cli("push", str(model_dir(tmp_path / "b", b"other")), "--model", name, "--version", "1")
    assert r.exit_code == 1
    assert len(r.error_lines) == 1 and r.error_lines[0].startswith("error: ")


def test_push_a_missing_path_is_a_usage_error(cli: CLI, name: str, tmp_path: Path) -> None:
    r = cli("push", str(tmp_path / "nope"), "--model", name, "--version", "1")
    assert r.exit_code == 2


def test_pull_a_missing_model_or_a_uri_only_version(cli: CLI, name: str, tmp_path: Path) -> None:
    r = cli("pull", f"{name}:1", "-o", str(tmp_path))
    assert r.exit_code == 1 and r.error_lines == [f"error: no registered model named {name!r}"]
    cli("models", "register", name, "--version", "1", "--uri", "s3://bucket/m")
    r = cli("pull", f"{name}:1", "-o", str(tmp_path / "out"))
    assert r.exit_code == 1 and len(r.error_lines) == 1 and "s3://bucket/m" in r.stderr


def test_resolve(cli: CLI, name: str) -> None:
    cli("models", "register", name, "--version", "1", "--uri", "s3://bucket/m/1")
    cli("models", "register", name, "--version", "2", "--uri", "s3://bucket/m/2")
    r = cli("resolve", f"model-registry://{name}/1")
    assert r.exit_code == 0 and r.stdout == "s3://bucket/m/1\n"
    assert cli("resolve", f"model-registry://{name}").stdout == "s3://bucket/m/2\n"
    as_json = cli("resolve", f"model-registry://{name}", "--output", "json").json()
    assert as_json == {"uri": f"model-registry://{name}", "storageUri": "s3://bucket/m/2"}
    bad = cli("resolve", "model-registry://")
    assert bad.exit_code == 1 and len(bad.error_lines) == 1 and "invalid model registry URI" in bad.stderr


def test_pull_into_a_place_that_cannot_hold_it_is_one_line(cli: CLI, name: str, tmp_path: Path) -> None:
    cli("push", str(model_dir(tmp_path)), "--model", name, "--version", "1")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    r = cli("pull", f"{name}:1", "-o", str(blocker))
    assert r.exit_code == 1
    assert len(r.error_lines) == 1 and str(blocker) in r.error_lines[0]
