"""The app's route table, as the authorization matrix sees it.

Every FastAPI route declares the role it needs in `openapi_extra["x-modelreg-role"]`
(modelreg.api.security); `authorize`, the dependency every included router carries,
refuses a route without one. `rule_problems` is the completeness check the matrix runs
first: a route with no rule, an unknown rule, or no `authorize` dependency is reported.
FastAPI's own OpenAPI document (/openapi.json) is a plain Starlette
route that never reaches `authorize`: it is public by design and listed here; any
other such route is a problem too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from modelreg.api.security import authorize, required_role

RULES = ("public", "authenticated", "viewer", "editor", "owner", "admin")
DOCS_ROUTES = frozenset({"/openapi.json"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the path format, e.g. /registries/{registry}/api/model_registry/v1/artifacts/{id}
    rule: str | None
    checked: bool  # runs `authorize`

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def routes(app: FastAPI) -> list[Route]:
    """Every (method, path) the app answers, with the rule it declares."""
    out: list[Route] = []
    for ctx in iter_route_contexts(app.routes):
        original: Any = ctx.original_route
        path = str(ctx.path_format)
        if isinstance(original, APIRoute):
            rule = required_role(original)
            deps = [getattr(d, "dependency", None) for d in (getattr(ctx, "dependencies", None) or [])]
            deps += [d.dependency for d in original.dependencies]
            checked = authorize in deps
        else:
            rule = "public" if path in DOCS_ROUTES else None
            checked = path in DOCS_ROUTES
        for method in sorted(set(ctx.methods or ()) - {"HEAD"}):
            out.append(Route(method, path, rule, checked))
    return out


def rule_problems(app: FastAPI) -> list[str]:
    """What is wrong with the route table: empty when every route is checked by a known rule."""
    problems = []
    for r in routes(app):
        if r.rule is None:
            problems.append(f"{r.key}: no x-modelreg-role rule")
        elif r.rule not in RULES:
            problems.append(f"{r.key}: unknown rule {r.rule!r}")
        elif not r.checked:
            problems.append(f"{r.key}: declares {r.rule!r} but does not run authorize")
    return problems
