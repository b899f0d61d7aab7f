"""`modelreg push`, `pull` and `resolve`: a version's files in and out of the registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelreg.cli._output import (
    Output,
    OutputOption,
    ProgressOption,
    details,
    emit_data,
    note,
    show,
    table,
    transfer_progress,
)
from modelreg.cli._params import DescriptionOption, LabelOption, MetaOption, connect, parse_meta, split_ref

if TYPE_CHECKING:
    from modelreg.client import TransferProgress


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def push(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A file, or a directory of files, to upload.", exists=True)],
    model: Annotated[str, typer.Option("--model", "-m", help="The registered model (created if new).")],
    version: Annotated[str, typer.Option("--version", "-v", help="The version to register.")],
    model_format: Annotated[str | None, typer.Option("--format", help="Model format, e.g. onnx.")] = None,
    format_version: Annotated[str | None, typer.Option("--format-version", help="Format version.")] = None,
    description: DescriptionOption = None,
    version_description: Annotated[
        str | None, typer.Option("--version-description", help="The version's description.")
    ] = None,
    author: Annotated[str | None, typer.Option("--author", help="The version's author.")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="The model's owner, if new.")] = None,
    meta: MetaOption = None,
    label: LabelOption = None,
    progress: ProgressOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Upload files as a new version of a model (the model is created if new).

    Pushing the same files under the same version again uploads nothing; different files under an existing version are refused. An interrupted push resumes where it stopped.

    Example: modelreg push ./model --model fraud-detector --version 1.0.0 --format onnx --meta auc=0.93
    """
    moved: int | None = None  # bytes sent; None while nothing was

    with connect(ctx, timeout=120.0) as client, transfer_progress("uploading", progress) as bar:

        def on_progress(p: TransferProgress) -> None:
            nonlocal moved
            moved = p.bytes_done
            if bar is not None:
                bar(p)

        v = client.register_model(
            model,
            version,
            path=path,
            model_format_name=model_format,
            model_format_version=format_version,
            description=description,
            version_description=version_description,
            metadata=parse_meta(meta),
            labels=label,
            author=author,
            owner=owner,
            progress=on_progress,
        )
        manifest = client.get_manifest(model, v)
    sent = (
        f"uploaded {_size(moved)}"
        if moved is not None
        else "nothing to upload: the registry already had these files"
    )
    note(f"{model} {v.name}: {len(manifest.files)} file(s), {_size(manifest.total_size)}; {sent}")

    def render() -> None:
        details([("model", model), ("version", v.name), ("id", v.id), ("uri", manifest.uri)])

    show(v, output, render)


def pull(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="MODEL[:VERSION]|URI",
            help="A model (its latest version), MODEL:VERSION, or a model-registry:// URI.",
        ),
    ],
    dest: Annotated[Path, typer.Option("-o", "--output-dir", help="Where to write the files.")] = Path("."),
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="The version (instead of MODEL:VERSION).")
    ] = None,
    progress: ProgressOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Download a version's files, verifying each one's SHA-256 as it is written.

    Files already in the directory with the right bytes are not downloaded again.

    Example: modelreg pull fraud-detector:1.0.0 -o ./fraud
    """
    if ref.startswith("model-registry://"):
        model, ver = ref, None
    else:
        model, ver = split_ref(ref, version)
    with connect(ctx, timeout=120.0) as client, transfer_progress("downloading", progress) as bar:
        manifest = client.download(model, ver, dest, progress=bar)
    note(f"{len(manifest.files)} file(s), {_size(manifest.total_size)}, verified in {dest}")
    if output is not Output.table:
        emit_data(manifest, output)
        return
    table([(f.path, _size(f.size), f.sha256) for f in manifest.files], ["PATH", "SIZE", "SHA256"])


def resolve(
    ctx: typer.Context,
    uri: Annotated[str, typer.Argument(help="model-registry://\\[host\\[:port]/]model\\[/version]")],
    output: OutputOption = Output.table,
) -> None:
    """Print what a model-registry:// URI points at, as KServe's storage initializer finds it.

    Example: modelreg resolve model-registry://fraud-detector/1.0.0
    """
    with connect(ctx) as client:
        target = client.resolve(uri)
    if output is Output.table:
        typer.echo(target)
    else:
        emit_data({"uri": uri, "storageUri": target}, output)


def register(app: typer.Typer) -> None:
    app.command()(push)
    app.command()(pull)
    app.command()(resolve)
