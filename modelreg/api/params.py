"""Query and path parameters, read strictly: a bad value is a 400 that names it."""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams

from modelreg.entities import V1, EntitySpec
from modelreg.service.errors import InvalidArgument
from modelreg.store.repository import ORDER_COLUMNS, PageRequest

_ID = re.compile(r"^[1-9][0-9]{0,8}$")
_PAGE_SIZE = re.compile(r"^[0-9]{1,9}$")
_STEP_IDS = re.compile(r"^[0-9]{1,9}(,[0-9]{1,9})*$")


def parse_id(value: str | None, what: str) -> int:
    if value is None or not _ID.match(value):
        raise InvalidArgument(f"{what} must be an id: a whole number from 1 to 999999999, got {value!r}")
    return int(value)


def optional_id(q: QueryParams, key: str) -> int | None:
    value = q.get(key)
    return None if value in (None, "") else parse_id(value, key)


def optional_text(q: QueryParams, key: str) -> str | None:
    value = q.get(key)
    return None if value in (None, "") else value


def page_request(q: QueryParams) -> tuple[PageRequest, int]:
    """The page asked for, and the pageSize to echo back (0 when none was given)."""
    size_raw = q.get("pageSize")
    size: int | None = None
    if size_raw not in (None, ""):
        assert size_raw is not None
        if not _PAGE_SIZE.match(size_raw) or int(size_raw) == 0:
            raise InvalidArgument(f"pageSize must be a whole number from 1 to 999999999, got {size_raw!r}")
        size = int(size_raw)
    order = q.get("orderBy") or "ID"
    if order not in ORDER_COLUMNS:
        raise InvalidArgument(f"orderBy must be one of {', '.join(ORDER_COLUMNS)}, got {order!r}")
    sort = q.get("sortOrder") or "ASC"
    if sort not in ("ASC", "DESC"):
        raise InvalidArgument(f"sortOrder must be ASC or DESC, got {sort!r}")
    token = q.get("nextPageToken") or ""
    return PageRequest(size=size, order_by=order, descending=sort == "DESC", token=token), size or 0


def step_ids(q: QueryParams) -> list[int] | None:
    raw = q.get("stepIds")
    if raw in (None, ""):
        return None
    assert raw is not None
    if not _STEP_IDS.match(raw):
        raise InvalidArgument(f"stepIds must be comma-separated whole numbers, got {raw!r}")
    return [int(s) for s in raw.split(",")]


def path_param(kind: str, api: str) -> str:
    """The name upstream gives an entity's id in paths: `registeredmodelId` or `registered_model_id`."""
    if kind == "artifact":
        return "id"
    return f"{kind}_id" if api == V1 else kind.replace("_", "") + "Id"


def spec_param(spec: EntitySpec, api: str) -> str:
    return path_param(spec.kind, api)
