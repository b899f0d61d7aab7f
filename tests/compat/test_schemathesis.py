"""Schemathesis against both reference specs: no 5xx, responses match the spec.

Every operation of each spec gets a fixed number of generated requests, positive (valid
per the spec) and negative (invalid), sent in-process to the ASGI app. A seeded set of
entities is created first and, in about half of the cases, the generated ids (path ids,
body references, find-by-externalId) are replaced by real ones and undeclared body
properties dropped, so the handlers past the 404 and the decoder are exercised too.
Each response is checked with schemathesis's `not_a_server_error` and
`response_schema_conformance`, with our own status-code check (below); successful
bodies must carry no field the spec does not declare (its object schemas are open, so
JSON Schema alone lets extras through), and every error body must be an `Error`. Failures are collected, deduplicated
and reported together rather than shrunk one at a time, which keeps the run bounded.

The number of cases run is printed (`-s`), recorded as the `schemathesis_cases` user
property (junit XML), and written, with the status counts per operation, to
`<pytest basetemp>/schemathesis-summary.txt`.

Schemathesis cannot negate some of the spec's composed request schemas (it raises
UnsupportedSchema part-way through an operation's negative cases); the cases drawn
before that still count, and the stop is printed as a note, not failed.

Knobs: MODELREG_SCHEMATHESIS_EXAMPLES (positive cases per operation on SQLite, default
25; negative get 40% of that; PostgreSQL and MariaDB get a third), and
MODELREG_SCHEMATHESIS_SEED (an integer, or "random"; default 0, so CI runs are
reproducible; the stateful run is derandomized unless it is "random"), and
MODELREG_SCHEMATHESIS_STATEFUL (stateful scenarios of 10 steps per spec, default 30).

Exclusions and allowances, each a spec gap rather than a server choice:
* Status codes: the spec lists per operation only some of the error statuses upstream
  really returns. On top of the declared ones we accept 400 anywhere (upstream rejects
  malformed params and bodies and bad filterQuery with 400 on every operation), 404
  wherever the path names an entity, the operation is a find, or a POST body names a
  parent or referenced entity that does not exist (upstream: 404), 409 on POST and PATCH
  (unique names and externalIds), 422 on POST (missing required fields, as upstream),
  and 201 for v1alpha3 createInferenceService (upstream answers 201; the spec says 200).
  Error bodies are validated against `Error` whatever the status.
* Artifact unions are validated with their discriminator applied (see
  spec_support.explicit_discriminators): without it every artifact matches several
  `oneOf` members, and upstream's responses would fail exactly the same way.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import UnsupportedSchema
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.compat.spec_support import (
    APIS,
    BODY_REF_KINDS,
    FIND_KINDS,
    KNOWN_SPEC_BUGS,
    PATH_PARAM_KINDS,
    Seed,
    load_spec,
    request_body_properties,
    response_schemas,
    undeclared_but_allowed,
    undeclared_fields,
)
from tests.compat.spec_support import seed as seed_data
from tests.conftest import wipe

BASE_URL = "http://testserver"
EXAMPLES = int(os.environ.get("MODELREG_SCHEMATHESIS_EXAMPLES", "25"))
_SEED_ENV = os.environ.get("MODELREG_SCHEMATHESIS_SEED", "0")
SEED = random.randrange(2**32) if _SEED_ENV == "random" else int(_SEED_ENV)
SERVER_FRACTION = 3  # PostgreSQL and MariaDB run a third of the SQLite cases
SQLITE_BUDGET_S = 90  # a spec's run on SQLite should stay well under this in CI


def examples(backend: str, mode: GenerationMode) -> int:
    n = EXAMPLES if backend == "sqlite" else max(2, EXAMPLES // SERVER_FRACTION)
    return n if mode is GenerationMode.POSITIVE else max(2, n * 2 // 5)


def allowed_statuses(api: str, operation: Any) -> set[int]:
    raw = operation.definition.raw
    declared = {int(s) for s in raw.get("responses", {}) if s.isdigit()}
    return declared | undeclared_but_allowed(api, raw["operationId"], operation.method, operation.path)


@dataclass
class Failures:
    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    examples: dict[tuple[str, str, int], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)  # "2xx", "4xx"... over all cases
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)

    def add(self, label: str, kind: str, status: int, detail: str) -> None:
        key = (label, kind, status)
        self.counts[key] += 1
        self.examples.setdefault(key, detail)

    def report(self, limit: int = 25) -> str:
        lines = []
        for (label, kind, status), n in self.counts.most_common(limit):
            lines.append(
                f"--- {label}: {kind} (status {status}, {n}x)\n{self.examples[(label, kind, status)]}"
            )
        more = len(self.counts) - limit
        if more > 0:
            lines.append(f"... and {more} more distinct failures")
        return "\n".join(lines)


def substitute(case: Any, s: Seed, body_properties: set[str]) -> None:
    """Point a generated case at the seeded entities: real ids in the path, body and finds.

    Its body also loses the properties the spec does not declare: the generator adds
    random ones (the schemas do not forbid them), which upstream and we reject with 400
    ("json: unknown field"), so without this few writes would get past decoding.
    """
    if isinstance(case.body, dict):
        case.body = {k: v for k, v in case.body.items() if k in body_properties}
    for name in list(case.path_parameters or {}):
        kind = PATH_PARAM_KINDS.get(name)
        if kind in s.ids:
            case.path_parameters[name] = s.ids[kind]
        if (
            kind == "artifact"
            and isinstance(case.body, dict)
            and case.body.get("artifactType") in s.artifacts
        ):
            case.path_parameters[name] = s.artifacts[case.body["artifactType"]]
    if isinstance(case.body, dict):
        for name, kind in BODY_REF_KINDS.items():
            if name in case.body and kind in s.ids:
                case.body[name] = s.ids[kind]
    last = case.operation.path.rstrip("/").rsplit("/", 1)[-1]
    if case.method.upper() == "GET" and last in FIND_KINDS and FIND_KINDS[last] in s.external_ids:
        case.query = {"externalId": s.external_ids[FIND_KINDS[last]]}


def describe(case: Any, response: Any, message: str) -> str:
    try:
        curl = case.as_curl_command(base_url=BASE_URL)
    except Exception:  # the curl rendering of an odd case must not hide the failure
        curl = f"{case.method} {case.formatted_path}"
    body = response.text[:400] if response is not None else ""
    return f"    {curl[:1200]}\n    -> {body}\n    {message[:1500]}"


def send_and_check(api: str, case: Any, session: ASGIClient, failures: Failures, mode: GenerationMode) -> Any:
    """Send one case and record every way its response departs from the spec."""
    schemas = response_schemas(api)
    operation = case.operation
    op_id = operation.definition.raw["operationId"]
    label = operation.label
    try:
        response = case.call(base_url=BASE_URL, session=session)
    except Exception as exc:
        # The ASGI transport re-raises what the app raised after answering 500.
        failures.add(label, f"server raised {type(exc).__name__}", 500, describe(case, None, repr(exc)))
        return None
    status = response.status_code
    failures.statuses[f"{status // 100}xx"] += 1
    failures.by_operation.setdefault(f"{label} ({mode.value})", Counter())[status] += 1
    try:
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
    except FailureGroup as group:
        for failure in group.exceptions:
            failures.add(label, failure.title, status, describe(case, response, str(failure.message)))
    allowed = allowed_statuses(api, operation)
    if mode is GenerationMode.POSITIVE and status not in allowed:
        failures.add(
            label, "undocumented status", status, describe(case, response, f"allowed: {sorted(allowed)}")
        )
    if 200 <= status < 300 and status != 204:
        declared = schemas.declared_schema(op_id, status)
        alias = KNOWN_SPEC_BUGS.get((api, op_id, status))
        if declared is None and alias is not None:
            declared = schemas.declared_schema(op_id, int(alias))
        extra = undeclared_fields(schemas.spec, declared, response.json()) if declared else []
        if extra:
            failures.add(
                label, "undeclared response fields", status, describe(case, response, "; ".join(extra))
            )
    if status >= 400:
        try:
            body = response.json()
        except ValueError:
            failures.add(label, "error body is not JSON", status, describe(case, response, ""))
            return response
        problems = schemas.problems(schemas.error_schema(), body)
        if problems:
            failures.add(
                label, "error body is not an Error", status, describe(case, response, "; ".join(problems))
            )
    return response


def run_operation(
    api: str,
    operation: Any,
    mode: GenerationMode,
    n: int,
    session: ASGIClient,
    seeded: Seed,
    failures: Failures,
) -> int:
    """Run `n` generated cases of one operation in one mode; returns how many ran."""
    body_properties = request_body_properties(response_schemas(api).spec, operation.definition.raw)
    ran = 0

    @seed(SEED)
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode), use_seed=st.booleans())
    def one(case: Any, use_seed: bool) -> None:
        nonlocal ran
        ran += 1
        if use_seed:
            substitute(case, seeded, body_properties)
        send_and_check(api, case, session, failures, mode)

    try:
        one()
    except Unsatisfiable:
        pass  # e.g. no negative variant of an operation without inputs
    except UnsupportedSchema as exc:
        # A generator limitation (negating a composed schema), not a server problem:
        # the cases drawn before it still count, and the stop is reported.
        failures.notes.append(f"{operation.label} ({mode.value}): generation stopped after {ran}: {exc}")
    return ran


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("api", APIS)
def test_schemathesis(
    api: str,
    client: TestClient,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    record_property: Any,
) -> None:
    raw = load_spec(api)
    schema = schemathesis.openapi.from_dict(raw, config=schemathesis.Config())
    seeded = seed_data(client)
    # Requests go straight into the app; its lifespan already runs under `client`.
    session = ASGIClient(client.app)
    failures = Failures()
    per_mode: Counter[str] = Counter()
    started = time.perf_counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            n = examples(backend, mode)
            per_mode[mode.value] += run_operation(api, operation, mode, n, session, seeded, failures)
    elapsed = time.perf_counter() - started
    total = sum(per_mode.values())
    line = (
        f"schemathesis {api} on {backend}: {total} cases "
        f"({per_mode['positive']} positive, {per_mode['negative']} negative) in {elapsed:.1f}s, "
        f"seed {SEED}, {len(failures.counts)} distinct failures; "
        f"statuses {dict(sorted(failures.statuses.items()))}"
    )
    print(f"\n{line}")
    record_property("schemathesis_cases", total)
    for note in failures.notes:
        print(f"  note: {note}")
    summary = Path(tmp_path_factory.getbasetemp()) / "schemathesis-summary.txt"
    with summary.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
        for op, counts in failures.by_operation.items():
            f.write(f"  {op}: {dict(sorted(counts.items()))}\n")
    assert total > 0, "schemathesis generated no cases"
    assert not failures.counts, f"{line}\n{failures.report()}"
    if (
        backend == "sqlite"
        and elapsed > SQLITE_BUDGET_S
        and "MODELREG_SCHEMATHESIS_EXAMPLES" not in os.environ
    ):
        # A warning, not a failure: a loaded CI machine must not turn timing into a red build.
        warnings.warn(
            f"{line}: over the {SQLITE_BUDGET_S}s budget; lower the default examples per operation",
            stacklevel=1,
        )


STATEFUL_SCENARIOS = int(os.environ.get("MODELREG_SCHEMATHESIS_STATEFUL", "30"))
STATEFUL_STEPS = 10


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("api", APIS)
def test_schemathesis_stateful(
    api: str, sqlite_client: TestClient, tmp_path_factory: pytest.TempPathFactory, record_property: Any
) -> None:
    """Schemathesis's stateful run on SQLite: chains of calls along the spec's links.

    Each created entity's id flows into the operations the spec links it to (get, patch,
    find, nested lists), so the chains reach real rows without seeding. Each scenario
    starts from an empty database. Bodies lose their
    undeclared properties before each call, as in `substitute`. Same checks as above.
    """
    raw = load_spec(api)
    schema = schemathesis.openapi.from_dict(raw, config=schemathesis.Config())
    session = ASGIClient(sqlite_client.app)
    failures = Failures()
    steps = 0
    body_properties = {
        result.ok().label: request_body_properties(raw, result.ok().definition.raw)
        for result in schema.get_all_operations()
    }

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from an empty registry: Hypothesis replays scenarios and
            # requires the same draws to meet the same answers.
            wipe(sqlite_client)

        def call(self, case: Any, **kwargs: Any) -> Any:
            nonlocal steps
            steps += 1
            if isinstance(case.body, dict):
                allowed = body_properties[case.operation.label]
                case.body = {k: v for k, v in case.body.items() if k in allowed}
            return send_and_check(api, case, session, failures, GenerationMode.POSITIVE)

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            pass  # done in `call`, collected rather than raised

    started = time.perf_counter()
    Machine.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=_SEED_ENV != "random",
        )
    )
    elapsed = time.perf_counter() - started
    line = (
        f"schemathesis stateful {api} on sqlite: {steps} calls in {STATEFUL_SCENARIOS} scenarios "
        f"in {elapsed:.1f}s, {len(failures.counts)} distinct failures; "
        f"statuses {dict(sorted(failures.statuses.items()))}"
    )
    print(f"\n{line}")
    record_property("schemathesis_stateful_calls", steps)
    with (Path(tmp_path_factory.getbasetemp()) / "schemathesis-summary.txt").open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    assert steps > 0, "the state machine made no calls"
    assert not failures.counts, f"{line}\n{failures.report()}"
