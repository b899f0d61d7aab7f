"""Route lookup and dispatch for the registry's own handlers, without FastAPI's per-request machinery.

FastAPI (0.16x) finds a route by walking every included router in turn and asking each
route whether it matches, with scope bookkeeping around every question: a request for
the last route of the app paid about 600 us before its handler ran, and a get-by-id
about 60 us, as much as its two queries. Then it solves the route's dependencies.

`FastRoutes` stands where the router stands (inside the exception middleware, so errors
take the same handlers) and finds, in one regular expression per method and path depth,
the first route in the app's own order that matches the path and the method: the one
FastAPI would pick. When that is a lean route (an endpoint marked by `lean`, which takes
the request alone, under exactly the `authorize` dependency) it sets the scope as the
router does (`route`, `endpoint`, `path_params`), calls `authorize` and the endpoint,
and sends the response. Everything else (no match, a 405, any other route, dependency
overrides) goes to the router as before. If the app holds a kind of route this module
does not know, it sends everything to the router.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastRoutes", "FrontDoor", "install", "lean"]

Endpoint = Callable[[Request], Awaitable[Response]]
_LEAN = "_modelreg_lean"
_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
_FOUND = "modelreg.lean_route"  # scope key: FrontDoor's lookup, for FastRoutes


def lean(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint that takes the request alone and returns a Response itself."""
    setattr(endpoint, _LEAN, True)
    return endpoint


@dataclass(frozen=True)
class _Entry:
    regex: str  # the route's full path pattern, its groups unnamed
    params: tuple[str, ...]
    convertors: tuple[Any, ...]
    methods: frozenset[str] | None  # None: any method (never a lean route)
    route: Any
    fast: bool
    depth: int | None  # slashes in the paths it matches; None: any number


def _entry(path: str, route: Any, methods: frozenset[str] | None, fast: bool) -> _Entry | None:
    regex, _, convertors = compile_path(path)
    pattern = regex.pattern.removeprefix("^").removesuffix("$")
    unnamed = _GROUP.sub("(", pattern)
    if re.compile(unnamed).groups != len(convertors):
        return None  # a convertor with groups of its own: not ours to parse
    variable = any(re.fullmatch(c.regex, "a/b") is not None for c in convertors.values())
    return _Entry(
        regex=unnamed,
        params=tuple(convertors),
        convertors=tuple(convertors.values()),
        methods=methods,
        route=route,
        fast=fast,
        depth=None if variable else path.count("/"),
    )


def _flatten(routes: list[Any], prefix: str, deps: tuple[Any, ...], out: list[_Entry], guard: Any) -> bool:
    """The app's routes in the order its router tries them; False on a kind not known here."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = route.include_context
            child_deps = deps + tuple(d.dependency for d in context.dependencies)
            if not _flatten(list(included.routes), prefix + context.prefix, child_deps, out, guard):
                return False
            if getattr(included, "_low_priority_routes", None):
                return False
            continue
        if isinstance(route, APIRoute):
            all_deps = deps + tuple(d.dependency for d in route.dependencies)
            fast = bool(getattr(route.endpoint, _LEAN, False)) and all_deps == (guard,)
            entry = _entry(prefix + route.path, route, frozenset(route.methods or ()), fast)
        elif type(route) is Route:
            entry = _entry(
                prefix + route.path, route, frozenset(route.methods) if route.methods else None, False
            )
        else:
            return False
        if entry is None:
            return False
        out.append(entry)
    return True


class FastRoutes:
    """Finds lean routes quickly and runs them; hands every other request to `fallback`
    (the router, or the layers around it).

    An exception a lean route raises meets the app's exception handlers through `errors`
    (a copy of the exception middleware this sits in), called only then: the middleware
    around every request cost a get by id 7% of its instructions in-process, wrapping
    `send` and making a second Request, for the rare request that fails."""

    def __init__(
        self,
        app: FastAPI,
        fallback: ASGIApp,
        guard: Callable[[Request], Awaitable[None]],
        errors: Any = None,
    ) -> None:
        self.app = app
        self.fallback = fallback
        self.guard = guard
        self.errors = errors
        entries: list[_Entry] = []
        self.enabled = _flatten(list(app.router.routes), "", (), entries, guard) and not getattr(
            app.router, "_low_priority_routes", None
        )
        self.entries = entries
        self._tables: dict[tuple[str, int], tuple[re.Pattern[str], dict[int, _Entry]] | None] = {}

    def _table(self, method: str, depth: int) -> tuple[re.Pattern[str], dict[int, _Entry]] | None:
        """One alternation of every route that may take `method` at this depth, in order:
        the first alternative that matches is the first route that does."""
        key = (method, depth)
        if key in self._tables:
            return self._tables[key]
        parts: list[str] = []
        groups: dict[int, _Entry] = {}
        group = 1
        for e in self.entries:
            if e.depth not in (None, depth) or (e.methods is not None and method not in e.methods):
                continue
            parts.append(f"({e.regex})")
            groups[group] = e
            group += 1 + len(e.params)
        table = (re.compile("^(?:" + "|".join(parts) + ")$"), groups) if parts else None
        self._tables[key] = table
        return table

    def _find(self, method: str, path: str) -> tuple[_Entry, dict[str, Any]] | None:
        table = self._table(method, path.count("/"))
        if table is None:
            return None
        pattern, groups = table
        m = pattern.match(path)
        if m is None:
            return None
        index = m.lastindex or 0  # the matched alternative's own group: it closed last
        entry = groups[index]
        values = m.groups()[index : index + len(entry.params)]
        return entry, {
            name: conv.convert(v)
            for name, conv, v in zip(entry.params, entry.convertors, values, strict=True)
        }

    def lookup(self, scope: Scope) -> tuple[_Entry, dict[str, Any]] | None:
        """The lean route that takes this request and its path parameters; None when
        the router must take it (no match, another kind of route, overrides)."""
        if not self.enabled or scope["type"] != "http" or self.app.dependency_overrides:
            return None
        path = scope["path"]
        root = scope.get("root_path", "")
        if root:
            if not path.startswith(root):
                root = ""
            elif path == root:
                path = ""
            elif path[len(root)] == "/":
                path = path[len(root) :]
        found = self._find(scope["method"], path)
        return found if found is not None and found[0].fast else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = scope.pop(_FOUND) if _FOUND in scope else self.lookup(scope)
        if found is None:
            await self.fallback(scope, receive, send)
            return
        entry, params = found
        route: APIRoute = entry.route
        scope.setdefault("router", self.app.router)
        scope["endpoint"] = route.endpoint
        scope["route"] = route
        scope["path_params"] = {**scope.get("path_params", {}), **params}
        request = Request(scope, receive, send)
        try:
            await self.guard(request)
            response: Response = await route.endpoint(request)
        except Exception as exc:
            if self.errors is None:
                raise
            await self._answer_error(exc, scope, receive, send)
            return
        await response(scope, receive, send)

    async def _answer_error(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        """What the exception middleware answers for `exc` (raised before any response)."""

        async def raise_it(scope: Scope, receive: Receive, send: Send) -> None:
            raise exc

        errors = copy.copy(self.errors)
        errors.app = raise_it
        await errors(scope, receive, send)


class FrontDoor(FastAPI):
    """FastAPI, whose lean routes also skip the outer layers that do nothing for them.

    Around the router FastAPI puts its own entry (root path, native telemetry), the
    telemetry middleware that watches for exceptions, and a body limit that acts only when
    the app sets `max_body_size`; for a get by id they cost about 5% of the server's CPU
    (the telemetry check alone asked OpenTelemetry for its three providers on every
    request). A request for a lean route goes, when telemetry is off, through a copy of
    the stack without those layers: the same error middleware, user middleware (request
    ids, access log, body limit), then FastRoutes, which meets the same exception handlers
    when a route fails. The outermost error middleware is left out when the request-id
    middleware (api.middleware.RequestContext) is there: it answers an unexpected error
    itself, with the same handler."""

    _fast_routes: FastRoutes | None = None
    _short_stack: ASGIApp | None = None
    _telemetry_asked = (False, float("-inf"))  # (on, when that was asked)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "fastapi.telemetry" not in scope:
            if self.middleware_stack is None:
                self.middleware_stack = self.build_middleware_stack()
            fast, short = self._fast_routes, self._short_stack
            if fast is not None and short is not None and not self._telemetry_on():
                if self.root_path:
                    scope["root_path"] = self.root_path
                found = fast.lookup(scope)
                scope[_FOUND] = found  # FastRoutes, further in, need not look again
                if found is not None:
                    scope["app"] = self
                    await short(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def _telemetry_on(self) -> bool:
        """Whether FastAPI's native OpenTelemetry instrumentation records requests, asked
        at most once a second: the question looks up three environment variables, and the
        answer changes only when a program sets up OpenTelemetry (once, at its start)."""
        on, asked = self._telemetry_asked
        now = time.monotonic()
        if now - asked >= 1.0:
            telemetry = getattr(self, "_native_telemetry", None)
            on = telemetry is not None and bool(telemetry.enabled())
            self._telemetry_asked = (on, now)
        return on


# Layers that do nothing for a lean route when telemetry is off and the app has no
# max_body_size of its own (FastAPI 0.16x); FastRoutes does the exception middleware's
# work itself (see FastRoutes.errors).
_IDLE_LAYERS = frozenset({"ExceptionTelemetryMiddleware", "AppBodyLimitMiddleware", "ExceptionMiddleware"})


def _short_stack(chain: list[Any], fast: FastRoutes, app: FastAPI) -> ASGIApp | None:
    """Copies of the layers above `fast` but the idle ones, each calling the next."""
    if getattr(app, "max_body_size", None) is not None or fast.errors is None:
        return None
    names = [type(layer).__name__ for layer in chain]
    idle = set(_IDLE_LAYERS)
    if names[0] == "ServerErrorMiddleware" and "RequestContext" in names:
        idle.add("ServerErrorMiddleware")  # RequestContext answers an unexpected error itself
    layers = [copy.copy(layer) for layer in chain if type(layer).__name__ not in idle]
    inner: ASGIApp = fast
    for layer in reversed(layers):
        layer.app = inner
        inner = layer
    return inner


def install(app: FastAPI, guard: Callable[[Request], Awaitable[None]]) -> None:
    """Put FastRoutes in the app's middleware stack when it is built: just inside the
    exception middleware, so that errors meet the same handlers.

    FastAPI's innermost layer opens an AsyncExitStack per request, for the files of form
    bodies and for dependencies with yield; lean routes have neither, so FastRoutes sits
    outside it and hands it (and the router inside) every other request."""
    build = app.build_middleware_stack

    def build_with_fast_routes() -> ASGIApp:
        stack = build()
        chain: list[Any] = [stack]
        while getattr(chain[-1], "app", None) is not None and chain[-1] is not app.router:
            chain.append(chain[-1].app)
        if chain[-1] is not app.router or len(chain) < 2:
            return stack  # not the stack this module knows: leave it as it is
        at = len(chain) - 2  # the layer whose app is the router
        if type(chain[at]).__name__ == "AsyncExitStackMiddleware" and at >= 1:
            at -= 1
        errors = chain[at] if type(chain[at]).__name__ == "ExceptionMiddleware" else None
        fast = FastRoutes(app, chain[at].app, guard, errors)
        chain[at].app = fast
        if isinstance(app, FrontDoor):
            app._fast_routes = fast
            app._short_stack = _short_stack(chain[: at + 1], fast, app)
        return stack

    app.build_middleware_stack = build_with_fast_routes  # type: ignore[method-assign]
