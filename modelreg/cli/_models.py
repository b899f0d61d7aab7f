"""`modelreg models ...` and `modelreg versions ...`: the registry's records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelreg.cli._output import (
    EXIT_USAGE,
    Output,
    OutputOption,
    ProgressOption,
    details,
    fail,
    metadata_text,
    note,
    show,
    table,
    transfer_progress,
    when,
)
from modelreg.cli._params import (
    DescOption,
    DescriptionOption,
    FilterOption,
    LabelOption,
    LimitOption,
    MetaOption,
    ModelArg,
    OrderBy,
    OrderOption,
    VersionArg,
    connect,
    parse_meta,
)

if TYPE_CHECKING:
    from modelreg.client import ModelVersion, RegisteredModel

models_app = typer.Typer(
    help="List, show, register, change, archive and delete models.\n\nExample: modelreg models list --output json",
    no_args_is_help=True,
)
versions_app = typer.Typer(
    help="List, show, change, archive and delete a model's versions.\n\nExample: modelreg versions list fraud-detector",
    no_args_is_help=True,
)

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
UnsetOption = Annotated[
    list[str] | None, typer.Option("--unset", help="Remove this metadata key, repeatable.")
]
UnlabelOption = Annotated[list[str] | None, typer.Option("--unlabel", help="Remove this label, repeatable.")]


# ---------------------------------------------------------------- rendering


def _model_details(m: RegisteredModel) -> None:
    details(
        [
            ("id", m.id),
            ("name", m.name),
            ("owner", m.owner),
            ("state", m.state),
            ("description", m.description),
            ("labels", ", ".join(m.labels)),
            ("metadata", metadata_text(m.metadata)),
            ("created", when(m.created_at)),
            ("updated", when(m.updated_at)),
        ]
    )


def _version_details(
    v: ModelVersion, model: str | None = None, more: list[tuple[str, Any]] | None = None
) -> None:
    details(
        [
            ("id", v.id),
            ("model", model if model is not None else v.model_id),
            ("version", v.name),
            ("author", v.author),
            ("state", v.state),
            ("description", v.description),
            ("labels", ", ".join(v.labels)),
            ("metadata", metadata_text(v.metadata)),
            ("created", when(v.created_at)),
            ("updated", when(v.updated_at)),
            *(more or []),
        ]
    )


def _models_table(models: list[RegisteredModel]) -> None:
    table(
        [
            (m.id, m.name, m.owner, m.state, ", ".join(m.labels), when(m.updated_at), m.description)
            for m in models
        ],
        ["ID", "NAME", "OWNER", "STATE", "LABELS", "UPDATED", "DESCRIPTION"],
    )


def _versions_table(versions: list[ModelVersion], model: str) -> None:
    table(
        [
            (
                v.id,
                v.name,
                v.author,
                v.state,
                ", ".join(v.labels),
                metadata_text(v.metadata),
                when(v.created_at),
            )
            for v in versions
        ],
        ["ID", "VERSION", "AUTHOR", "STATE", "LABELS", "METADATA", "CREATED"],
        title=f"versions of {model}",
    )


def _label_changes(current: list[str], add: list[str] | None, remove: list[str] | None) -> list[str] | None:
    if not add and not remove:
        return None
    kept = [label for label in current if label not in (remove or [])]
    return kept + [label for label in (add or []) if label not in kept]


def _meta_changes(meta: list[str] | None, unset: list[str] | None) -> dict[str, Any] | None:
    changes: dict[str, Any] = dict(parse_meta(meta) or {})
    for key in unset or []:
        changes[key] = None
    return changes or None


# ---------------------------------------------------------------- models


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    filter: FilterOption = None,
    order_by: OrderOption = OrderBy.id,
    desc: DescOption = False,
    limit: LimitOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List registered models.

    Example: modelreg models list --filter "owner = 'ana'" --order-by name --output json
    """
    with connect(ctx) as client:
        models = list(
            client.list_models(filter=filter, order_by=order_by.value, descending=desc, limit=limit)
        )
    show(models, output, lambda: _models_table(models))


@models_app.command("show")
def models_show(ctx: typer.Context, model: ModelArg, output: OutputOption = Output.table) -> None:
    """Show one model.

    Example: modelreg models show fraud-detector
    """
    with connect(ctx) as client:
        m = client.get_model(model)
    show(m, output, lambda: _model_details(m))


@models_app.command("register")
def models_register(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new model's name.")],
    version: Annotated[
        str | None, typer.Option("--version", help="Also register this version (with --uri or --path).")
    ] = None,
    uri: Annotated[
        str | None, typer.Option("--uri", help="Where the version's files are, e.g. s3://...")
    ] = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="Files to upload into the registry (like 'modelreg push').")
    ] = None,
    model_format: Annotated[str | None, typer.Option("--format", help="Model format, e.g. onnx.")] = None,
    format_version: Annotated[str | None, typer.Option("--format-version", help="Format version.")] = None,
    description: DescriptionOption = None,
    version_description: Annotated[
        str | None, typer.Option("--version-description", help="The version's description.")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="The model's owner.")] = None,
    author: Annotated[str | None, typer.Option("--author", help="The version's author.")] = None,
    meta: MetaOption = None,
    label: LabelOption = None,
    progress: ProgressOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Register a model; with --version and --uri (or --path), a version of it too.

    Without --version the model is created (an error if the name is taken) and --meta and --label go on it; with --version they go on the version, and registering the same version with the same content again changes nothing.

    Example: modelreg models register fraud-detector --version 1.0.0 --uri s3://models/fraud/1.0.0 --format onnx
    """
    metadata = parse_meta(meta)
    with connect(ctx) as client:
        if version is None:
            if uri is not None or path is not None:
                fail("--uri and --path need --version", EXIT_USAGE)
            m = client.create_model(
                name, description=description, owner=owner, metadata=metadata, labels=label
            )
            show(m, output, lambda: _model_details(m))
            return
        if (uri is None) == (path is None):
            fail("--version needs exactly one of --uri or --path", EXIT_USAGE)
        with transfer_progress("uploading", progress) as on_progress:
            v = client.register_model(
                name,
                version,
                uri=uri,
                path=path,
                model_format_name=model_format,
                model_format_version=format_version,
                description=description,
                version_description=version_description,
                metadata=metadata,
                labels=label,
                author=author,
                owner=owner,
                progress=on_progress,
            )
    show(v, output, lambda: _version_details(v, name))


@models_app.command("update")
def models_update(
    ctx: typer.Context,
    model: ModelArg,
    description: DescriptionOption = None,
    owner: Annotated[str | None, typer.Option("--owner", help="A new owner.")] = None,
    meta: MetaOption = None,
    unset: UnsetOption = None,
    label: LabelOption = None,
    unlabel: UnlabelOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Change a model's description, owner, metadata or labels (other metadata is kept).

    Example: modelreg models update fraud-detector --meta team=risk --label production --unlabel staging
    """
    with connect(ctx) as client:
        labels = None
        if label or unlabel:
            labels = _label_changes(client.get_model(model).labels, label, unlabel)
        m = client.update_model(
            model, description=description, owner=owner, metadata=_meta_changes(meta, unset), labels=labels
        )
    show(m, output, lambda: _model_details(m))


@models_app.command("archive")
def models_archive(ctx: typer.Context, model: ModelArg, output: OutputOption = Output.table) -> None:
    """Archive a model; its live versions are archived with it.

    Example: modelreg models archive fraud-detector
    """
    with connect(ctx) as client:
        m = client.archive(model)
    show(m, output, lambda: _model_details(m))


@models_app.command("restore")
def models_restore(ctx: typer.Context, model: ModelArg, output: OutputOption = Output.table) -> None:
    """Restore an archived model, and the versions archived with it.

    Example: modelreg models restore fraud-detector
    """
    with connect(ctx) as client:
        m = client.restore(model)
    show(m, output, lambda: _model_details(m))


@models_app.command("delete")
def models_delete(ctx: typer.Context, model: ModelArg, yes: YesOption = False) -> None:
    """Delete a model with all its versions and artifacts (refused while deployed).

    Example: modelreg models delete fraud-detector --yes
    """
    with connect(ctx) as client:
        m = client.get_model(model)
        if not yes:
            typer.confirm(f"Delete model {m.name!r} (id {m.id}) and all its versions?", abort=True, err=True)
        client.delete(m)
    note(f"deleted model {m.name!r}")


# ---------------------------------------------------------------- versions


@versions_app.command("list")
def versions_list(
    ctx: typer.Context,
    model: ModelArg,
    filter: FilterOption = None,
    order_by: OrderOption = OrderBy.id,
    desc: DescOption = False,
    limit: LimitOption = None,
    output: OutputOption = Output.table,
) -> None:
    """List a model's versions.

    Example: modelreg versions list fraud-detector --filter "auc > 0.9" --desc
    """
    with connect(ctx) as client:
        versions = list(
            client.list_versions(model, filter=filter, order_by=order_by.value, descending=desc, limit=limit)
        )
    show(versions, output, lambda: _versions_table(versions, model))


@versions_app.command("show")
def versions_show(
    ctx: typer.Context, model: ModelArg, version: VersionArg = "latest", output: OutputOption = Output.table
) -> None:
    """Show one version, and where its files are.

    Example: modelreg versions show fraud-detector 1.0.0
    """
    from modelreg.client import NotFound

    with connect(ctx) as client:
        v = client.get_version(model, version)
        try:
            artifact = client.get_artifact(model, v)
        except NotFound:
            artifact = None
    more: list[tuple[str, Any]] = []
    if artifact is not None:
        fmt = " ".join(x for x in (artifact.model_format_name, artifact.model_format_version) if x)
        more = [("uri", artifact.uri), ("format", fmt), ("artifact", f"{artifact.state} (id {artifact.id})")]
    show(v, output, lambda: _version_details(v, model, more))


@versions_app.command("update")
def versions_update(
    ctx: typer.Context,
    model: ModelArg,
    version: VersionArg,
    description: DescriptionOption = None,
    author: Annotated[str | None, typer.Option("--author", help="A new author.")] = None,
    meta: MetaOption = None,
    unset: UnsetOption = None,
    label: LabelOption = None,
    unlabel: UnlabelOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Change a version's description, author, metadata or labels (other metadata is kept).

    Example: modelreg versions update fraud-detector 1.0.0 --meta auc=0.95 --label approved
    """
    with connect(ctx) as client:
        v = client.get_version(model, version)
        labels = _label_changes(v.labels, label, unlabel)
        v = client.update_version(
            model,
            v,
            description=description,
            author=author,
            metadata=_meta_changes(meta, unset),
            labels=labels,
        )
    show(v, output, lambda: _version_details(v, model))


@versions_app.command("archive")
def versions_archive(
    ctx: typer.Context, model: ModelArg, version: VersionArg, output: OutputOption = Output.table
) -> None:
    """Archive one version.

    Example: modelreg versions archive fraud-detector 1.0.0
    """
    with connect(ctx) as client:
        v = client.archive(model, version)
    show(v, output, lambda: _version_details(v, model))


@versions_app.command("restore")
def versions_restore(
    ctx: typer.Context, model: ModelArg, version: VersionArg, output: OutputOption = Output.table
) -> None:
    """Restore an archived version.

    Example: modelreg versions restore fraud-detector 1.0.0
    """
    with connect(ctx) as client:
        v = client.restore(model, version)
    show(v, output, lambda: _version_details(v, model))


@versions_app.command("delete")
def versions_delete(ctx: typer.Context, model: ModelArg, version: VersionArg, yes: YesOption = False) -> None:
    """Delete one version and its artifacts (refused while deployed).

    Example: modelreg versions delete fraud-detector 1.0.0 --yes
    """
    with connect(ctx) as client:
        v = client.get_version(model, version)
        if not yes:
            typer.confirm(f"Delete version {v.name!r} of {model!r}?", abort=True, err=True)
        client.delete(model, v)
    note(f"deleted version {v.name!r} of {model!r}")
