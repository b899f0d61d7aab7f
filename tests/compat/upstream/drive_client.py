"""Drive the upstream `model-registry` Python client against a running modelreg.

Run with the Python of a virtualenv that has `model-registry` installed (never the
project's own environment: two client versions cannot share one):

    python drive_client.py http://127.0.0.1:8080

It exercises what the issue's acceptance names: the constructor's connection check,
`register_model` with metadata, `get_registered_model`, `get_model_version`,
`get_model_artifact`, `update` (including archiving through state ARCHIVED), and the
`get_registered_models()` / `get_model_versions()` pagers at page sizes 1, 2 and 100,
in every order and both directions, each item exactly once. It prints one line per
step and exits non-zero with a message naming the first check that failed. It expects
an empty registry.
"""

from __future__ import annotations

import itertools
import re
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import model_registry
from model_registry import ModelRegistry
from model_registry.exceptions import StoreError
from model_registry.types import ModelVersionState, RegisteredModelState

ID_RE = re.compile(r"^[1-9][0-9]{0,8}$")
MILLIS_RE = re.compile(r"^[1-9][0-9]{11,13}$")
PAGE_SIZES = (1, 2, 100)
ORDERS = ("id", "creation_time", "update_time")

# The metadata one version is registered with: one value of each supported type.
METADATA: dict[str, Any] = {
    "framework": "pytorch",
    "epochs": 12,
    "accuracy": 0.875,
    "gated": False,
    "negative": -42,
    "label-only": "",
}


class CheckFailed(AssertionError):
    pass


def check(cond: object, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def equal(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def step(msg: str) -> None:
    print(f"[{model_registry.__version__}] {msg}", flush=True)


def check_resource(obj: Any, kind: str) -> None:
    """Ids are decimal int32 strings, timestamps strings of epoch milliseconds."""
    check(obj is not None, f"{kind}: got None")
    check(isinstance(obj.id, str) and ID_RE.match(obj.id), f"{kind}.id {obj.id!r} is not a decimal id string")
    for field in ("create_time_since_epoch", "last_update_time_since_epoch"):
        value = getattr(obj, field)
        check(
            isinstance(value, str) and MILLIS_RE.match(value),
            f"{kind}.{field} {value!r} is not a string of epoch milliseconds",
        )
    check(
        int(obj.last_update_time_since_epoch) >= int(obj.create_time_since_epoch),
        f"{kind}: lastUpdateTimeSinceEpoch before createTimeSinceEpoch",
    )


def connect(url: str) -> ModelRegistry:
    parsed = urlparse(url)
    # A bearer token is sent as the client does in a cluster; the server must tolerate it.
    return ModelRegistry(
        f"{parsed.scheme}://{parsed.hostname}",
        parsed.port,
        author="compat-author",
        is_secure=False,
        user_token="compat-token",
    )


def register_and_read_back(mr: ModelRegistry) -> None:
    step("lookups of what does not exist return None")
    equal(mr.get_registered_model("no-such-model"), None, "get_registered_model of an unknown name")

    step("register_model with metadata")
    rm = mr.register_model(
        "compat-model",
        "s3://bucket/compat-model/v1?endpoint=http://minio:9000",
        model_format_name="onnx",
        model_format_version="1",
        version="v1",
        storage_key="my-data-connection",
        storage_path="compat-model/v1",
        version_description="first version",
        owner="compat-owner",
        metadata=METADATA,
    )
    check_resource(rm, "RegisteredModel from register_model")
    equal(rm.name, "compat-model", "registered model name")
    equal(rm.owner, "compat-owner", "registered model owner")
    equal(rm.state, RegisteredModelState.LIVE, "registered model state")

    step("get_registered_model")
    got = mr.get_registered_model("compat-model")
    check_resource(got, "RegisteredModel")
    assert got is not None
    equal(got.id, rm.id, "get_registered_model id")
    equal(got.owner, "compat-owner", "get_registered_model owner")
    equal(got.state, RegisteredModelState.LIVE, "get_registered_model state")

    step("get_model_version returns the metadata as given")
    mv = mr.get_model_version("compat-model", "v1")
    check_resource(mv, "ModelVersion")
    assert mv is not None
    equal(mv.name, "v1", "model version name")
    equal(mv.registered_model_id, rm.id, "model version registeredModelId")
    equal(mv.author, "compat-author", "model version author (defaults to the client's author)")
    equal(mv.description, "first version", "model version description")
    equal(mv.state, ModelVersionState.LIVE, "model version state")
    equal(dict(mv.custom_properties or {}), METADATA, "model version customProperties (metadata)")
    for key, value in METADATA.items():
        equal(type(mv.custom_properties[key]), type(value), f"type of metadata {key!r}")
    equal(
        mr.get_model_version("compat-model", "no-such-version"), None, "get_model_version of unknown version"
    )
    try:
        mr.get_model_version("no-such-model", "v1")
    except StoreError:
        pass
    else:
        raise CheckFailed("get_model_version of an unknown model should raise StoreError")

    step("get_model_artifact")
    ma = mr.get_model_artifact("compat-model", "v1")
    check_resource(ma, "ModelArtifact")
    assert ma is not None
    equal(ma.name, "compat-model", "model artifact name (the client names it after the model)")
    equal(ma.uri, "s3://bucket/compat-model/v1?endpoint=http://minio:9000", "model artifact uri")
    equal(ma.model_format_name, "onnx", "model artifact modelFormatName")
    equal(ma.model_format_version, "1", "model artifact modelFormatVersion")
    equal(ma.storage_key, "my-data-connection", "model artifact storageKey")
    equal(ma.storage_path, "compat-model/v1", "model artifact storagePath")
    try:
        mr.get_model_artifact("compat-model", "no-such-version")
    except StoreError:
        pass
    else:
        raise CheckFailed("get_model_artifact of an unknown version should raise StoreError")

    step("registering the same version again raises StoreError")
    try:
        mr.register_model(
            "compat-model", "s3://x/y", model_format_name="onnx", model_format_version="1", version="v1"
        )
    except StoreError as exc:
        check("already exists" in str(exc), f"unexpected StoreError message: {exc}")
    else:
        raise CheckFailed("re-registering an existing version did not raise StoreError")

    step("a second version under the same model")
    mr.register_model(
        "compat-model", "s3://bucket/compat-model/v2", model_format_name="onnx", model_format_version="1",
        version="v2", author="someone-else",
    )  # fmt: skip
    mv2 = mr.get_model_version("compat-model", "v2")
    check_resource(mv2, "ModelVersion v2")
    assert mv2 is not None
    equal(mv2.registered_model_id, rm.id, "v2 registeredModelId")
    equal(mv2.author, "someone-else", "v2 author")
    check(mv2.id != mv.id, "v1 and v2 share an id")
    rm_again = mr.get_registered_model("compat-model")
    assert rm_again is not None
    equal(rm_again.id, rm.id, "register_model of an existing model reuses it")

    step("update a RegisteredModel")
    time.sleep(0.01)
    got.description = "a model for compatibility tests"
    got.custom_properties = {"team": "ml", "stars": 3}
    updated = mr.update(got)
    check_resource(updated, "updated RegisteredModel")
    equal(updated.id, rm.id, "updated registered model id")
    equal(updated.description, "a model for compatibility tests", "updated description (response)")
    back = mr.get_registered_model("compat-model")
    assert back is not None
    equal(back.description, "a model for compatibility tests", "updated description (read back)")
    equal(dict(back.custom_properties or {}), {"team": "ml", "stars": 3}, "updated customProperties")
    equal(back.owner, "compat-owner", "owner kept by update")
    equal(back.create_time_since_epoch, rm.create_time_since_epoch, "createTimeSinceEpoch kept by update")
    check(
        int(back.last_update_time_since_epoch) > int(rm.last_update_time_since_epoch),
        "lastUpdateTimeSinceEpoch did not advance on update",
    )

    step("update a ModelVersion's metadata")
    mv.description = "first version, revised"
    mv.custom_properties = {**METADATA, "epochs": 13, "reviewed": True}
    mr.update(mv)
    mv_back = mr.get_model_version("compat-model", "v1")
    assert mv_back is not None
    equal(mv_back.description, "first version, revised", "updated version description")
    equal(dict(mv_back.custom_properties or {}), mv.custom_properties, "updated version customProperties")
    equal(mv_back.author, "compat-author", "version author kept by update")

    step("update a ModelArtifact")
    ma.uri = "s3://bucket/compat-model/v1-moved"
    ma.model_format_version = "2"
    ma_updated = mr.update(ma)
    check_resource(ma_updated, "updated ModelArtifact")
    ma_back = mr.get_model_artifact("compat-model", "v1")
    assert ma_back is not None
    equal(ma_back.id, ma.id, "model artifact id after update")
    equal(ma_back.uri, "s3://bucket/compat-model/v1-moved", "updated artifact uri")
    equal(ma_back.model_format_version, "2", "updated artifact modelFormatVersion")
    equal(ma_back.storage_key, "my-data-connection", "artifact storageKey kept by update")

    step("archive a ModelVersion, then the RegisteredModel (state ARCHIVED + update)")
    mv_back.state = ModelVersionState.ARCHIVED
    mr.update(mv_back)
    archived_mv = mr.get_model_version("compat-model", "v1")
    assert archived_mv is not None
    equal(archived_mv.state, ModelVersionState.ARCHIVED, "archived version state")
    equal(archived_mv.description, "first version, revised", "archiving kept the description")
    back.state = RegisteredModelState.ARCHIVED
    mr.update(back)
    archived = mr.get_registered_model("compat-model")
    assert archived is not None
    equal(archived.state, RegisteredModelState.ARCHIVED, "archived model state")
    equal(
        dict(archived.custom_properties or {}), {"team": "ml", "stars": 3}, "archiving kept customProperties"
    )
    # modelreg cascades (upstream leaves this to the UI): the model's live versions
    # follow it into the archive, and only those come back out with it.
    versions = {v.name: v.state for v in mr.get_model_versions("compat-model")}
    equal(
        versions,
        {"v1": ModelVersionState.ARCHIVED, "v2": ModelVersionState.ARCHIVED},
        "version states listed after archiving the model",
    )

    step("unarchive the RegisteredModel")
    archived.state = RegisteredModelState.LIVE
    mr.update(archived)
    live = mr.get_registered_model("compat-model")
    assert live is not None
    equal(live.state, RegisteredModelState.LIVE, "unarchived model state")
    versions = {v.name: v.state for v in mr.get_model_versions("compat-model")}
    equal(
        versions,
        {"v1": ModelVersionState.ARCHIVED, "v2": ModelVersionState.LIVE},
        "version states listed after unarchiving the model",
    )


def _sort_key(order: str) -> Callable[[Any], tuple[int, int]]:
    field = {
        "id": "id",
        "creation_time": "create_time_since_epoch",
        "update_time": "last_update_time_since_epoch",
    }
    name = field[order]
    return lambda obj: (int(getattr(obj, name)), int(obj.id))


def check_pager(
    what: str, make_pager: Callable[[], Any], truth: Sequence[Any], orders_differ: Sequence[str]
) -> int:
    """Walk the pager in every combination and compare with `truth`, sorted as upstream sorts.

    Upstream orders by the chosen column and breaks ties by id in the same direction.
    Returns the number of combinations checked.
    """
    expected_sets = {}
    for order in ORDERS:
        asc = [o.name for o in sorted(truth, key=_sort_key(order))]
        expected_sets[order] = asc
    # The data is built so these orders differ from id order; otherwise a server
    # ignoring orderBy would pass.
    for order in orders_differ:
        check(
            expected_sets[order] != expected_sets["id"],
            f"{what}: test data has the same {order} and id order",
        )
    combos = 0
    limit = 3 * len(truth) + 10
    for size, order, ascending in itertools.product(PAGE_SIZES, ORDERS, (True, False)):
        pager = make_pager().page_size(size)
        pager = getattr(pager, f"order_by_{order}")()
        pager = pager.ascending() if ascending else pager.descending()
        label = f"{what} pageSize={size} orderBy={order} {'ASC' if ascending else 'DESC'}"
        names = [o.name for o in itertools.islice(pager, limit)]
        check(len(names) < limit, f"{label}: the pager never stopped (got {len(names)} items and counting)")
        dupes = sorted({n for n in names if names.count(n) > 1})
        check(not dupes, f"{label}: items returned more than once: {dupes} in {names}")
        expected = expected_sets[order] if ascending else list(reversed(expected_sets[order]))
        equal(names, expected, label)
        combos += 1
    return combos


def paging(mr: ModelRegistry) -> None:
    step("create models and versions to page through")
    # Five more models (six with compat-model, an exact multiple of page size 2), then
    # touch them in reverse order so that update order differs from id order.
    for i in range(5):
        mr.register_model(
            f"page-model-{i}", f"s3://b/page-model-{i}", model_format_name="onnx", model_format_version="1",
            version="v1",
        )  # fmt: skip
    for i in reversed(range(5)):
        time.sleep(0.01)
        rm = mr.get_registered_model(f"page-model-{i}")
        assert rm is not None
        rm.description = f"touched {i}"
        mr.update(rm)
    # Five versions of one model (odd, so the last page of size 2 is partial), updated
    # in a shuffled order.
    for i in range(5):
        mr.register_model(
            "paged-versions", f"s3://b/paged-versions/{i}", model_format_name="onnx",
            model_format_version="1", version=f"{i}.0",
        )  # fmt: skip
    for i in (3, 0, 4, 1):
        time.sleep(0.01)
        mv = mr.get_model_version("paged-versions", f"{i}.0")
        assert mv is not None
        mv.description = f"touched {i}"
        mr.update(mv)

    model_names = ["compat-model", *(f"page-model-{i}" for i in range(5)), "paged-versions"]
    models = [mr.get_registered_model(n) for n in model_names]
    for m in models:
        check_resource(m, "RegisteredModel")
    versions = [mr.get_model_version("paged-versions", f"{i}.0") for i in range(5)]
    for v in versions:
        check_resource(v, "ModelVersion")

    step("get_registered_models() pager: page sizes 1, 2, 100 x orders x directions")
    n = check_pager("get_registered_models()", mr.get_registered_models, models, ["update_time"])
    step(f"  {n} combinations, {len(models)} models, each exactly once")

    step("get_model_versions() pager: page sizes 1, 2, 100 x orders x directions")
    n = check_pager(
        "get_model_versions('paged-versions')",
        lambda: mr.get_model_versions("paged-versions"),
        versions,
        ["update_time"],
    )
    step(f"  {n} combinations, {len(versions)} versions, each exactly once")

    step("a pager walked item by item with next() stops, then restarts")
    pager = mr.get_registered_models().page_size(2).order_by_id()
    first = [next(pager).name for _ in range(len(models))]
    try:
        extra = next(pager)
    except StopIteration:
        pass
    else:
        raise CheckFailed(f"pager gave an item past the end: {extra.name}")
    equal(first, [m.name for m in sorted(models, key=_sort_key("id"))], "next() walk")
    equal([m.name for m in pager.restart()], first, "walk after restart()")

    step("the default pager (no options) lists everything once")
    equal(sorted(m.name for m in mr.get_registered_models()), sorted(model_names), "default pager")
    equal(
        sorted(v.name for v in mr.get_model_versions("compat-model")), ["v1", "v2"], "default versions pager"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} http://HOST:PORT", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # the client warns about the http port; not our concern
    try:
        step(f"connect to {argv[1]} (the constructor lists one registered model)")
        mr = connect(argv[1])
        register_and_read_back(mr)
        paging(mr)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception:
        print("FAILED with an exception from the client:", file=sys.stderr)
        traceback.print_exc()
        return 1
    step("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
