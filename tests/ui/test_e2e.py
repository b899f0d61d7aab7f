"""End to end in headless Chromium (Playwright for Python driving Debian's chromium).

Walks the tasks as a user would: sign in as an admin, register a model with an upload,
add a version, edit labels and properties, deploy a version (its archive refused while
deployed), edit and delete the deployment, archive, restore, delete, create a registry,
grant a user, then sign in as that user and see only what the grant allows. Every page
is screenshotted (into MODELREG_UI_SCREENSHOTS, or pytest's tmp directory) and checked
with axe-core (vendored in tests/ui/vendor): no serious or critical violations.

Skips with the reason when chromium or playwright is missing, except under CI=true.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.access.conftest import ADMIN_USER, mint_admin_token

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("MODELREG_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the end-to-end tests; .ci/run installs them)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, admin token) of a real server with authentication on."""
    import uvicorn

    d = tmp_path_factory.mktemp("e2e")
    s = Settings(data_dir=d, access_log=False, auth=True, admin_users=[ADMIN_USER])
    upgrade_schema(s)
    app = create_app(s)
    token = mint_admin_token(app)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _missing(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("MODELREG_UI_SCREENSHOTS") or tmp_path / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots in {where}")
    return where


class Walk:
    def __init__(self, page: Any, base: str, shots: Path) -> None:
        self.page, self.base, self.shots, self.n = page, base, shots, 0
        self.violations: list[str] = []

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def check(self, name: str) -> None:
        """Screenshot the page and run axe on it."""
        self.n += 1
        self.page.screenshot(path=str(self.shots / f"{self.n:02d}-{name}.png"), full_page=True)
        self.page.add_script_tag(path=str(AXE))
        found = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
        )
        for v in found:
            if v["impact"] in ("serious", "critical"):
                self.violations.append(f"{name}: {v['id']} ({v['impact']}) {v['help']} at {v['nodes']}")
        assert "Traceback" not in self.page.content()


def test_walk_every_task(server: tuple[str, str], browser: Any, shots: Path, tmp_path: Path) -> None:
    base, admin = server
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(10000)
    w = Walk(page, base, shots)

    # sign in as the admin
    w.go("/models")
    assert "/signin" in page.url
    w.check("signin")
    page.get_by_label("API token").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/models")
    w.check("models-empty")

    # register a model, with files uploaded
    page.get_by_role("link", name="Register model").click()
    w.check("register-model")
    page.get_by_role("button", name="Register model").click()  # empty: errors beside the fields
    assert page.locator("#e-name").is_visible() and page.locator("#e-version_name").is_visible()
    w.check("register-model-errors")
    page.get_by_label("Model name").fill("fraud-detector")
    page.get_by_label("Model description").fill("card fraud scoring")
    page.get_by_label("Version name").fill("1.0.0")
    page.get_by_label("Source model format", exact=True).fill("onnx")
    page.get_by_label("Upload files to modelreg").check()
    page.get_by_role("button", name="Register model").click()
    page.wait_for_selector("form[data-upload]")
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(os.urandom(300_000))
    page.get_by_label("Files to store in modelreg").set_input_files(str(model_file))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_selector("text=Files uploaded.")
    assert page.get_by_role("link", name="model.onnx").is_visible()
    assert page.locator("dd", has_text="onnx").count() == 1  # the format typed is on the artifact
    w.check("version-uploaded")

    # add a version, prefilled from the latest
    page.get_by_role("link", name="fraud-detector").first.click()
    w.check("model-overview")
    page.get_by_role("link", name="Register new version").click()
    page.get_by_label("Version name").fill("1.1.0")
    page.get_by_label("URI", exact=True).check() if False else page.locator('input[value="uri"]').check()
    page.locator("#f-uri").fill("oci://quay.io/acme/fraud:1.1.0")
    w.check("register-version")
    page.get_by_role("button", name="Register new version").click()
    page.wait_for_selector("text=Version registered.")
    w.check("version-details")

    # edit labels and properties on the model
    page.get_by_role("link", name="fraud-detector").first.click()
    page.get_by_label("Labels, separated by commas").fill("fraud, tabular")
    page.get_by_role("button", name="Save labels").click()
    page.wait_for_selector("text=Labels saved.")
    page.get_by_label("New property key").fill("license")
    page.get_by_label("Value", exact=True).last.fill("apache-2.0")
    page.get_by_role("button", name="Add property").click()
    page.wait_for_selector("text=Property license saved.")
    w.check("model-edited")
    for tab in ("Versions", "Deployments", "History"):
        page.get_by_role("navigation", name="Model sections").get_by_role("link", name=tab).click()
        w.check(f"model-{tab.lower()}")
    page.get_by_role("navigation", name="Model sections").get_by_role("link", name="Overview").click()

    # search
    w.go("/models?q=tabular")
    assert page.get_by_role("link", name="fraud-detector").is_visible()
    w.check("models-search")

    # deploy version 1.0.0, see it, be refused its archive, edit and delete the deployment
    page.get_by_role("link", name="fraud-detector").first.click()
    page.get_by_role("navigation", name="Model sections").get_by_role("link", name="Versions").click()
    page.get_by_role("link", name="1.0.0").click()
    page.get_by_role("link", name="Deploy", exact=True).click()
    assert page.locator("#f-name").input_value() == "fraud-detector"
    w.check("deploy")
    page.locator("#f-name").fill("")
    page.get_by_role("button", name="Deploy", exact=True).click()
    assert page.locator("#e-name").is_visible() and page.locator("#e-new_environment").is_visible()
    w.check("deploy-errors")
    page.locator("#f-name").fill("fraud-svc")
    page.locator("#f-new_environment").fill("prod")
    page.locator("#f-runtime").fill("kserve-ovms")
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.wait_for_selector("text=Deployment fraud-svc created.")
    assert page.get_by_role("link", name="fraud-svc", exact=True).is_visible()
    w.check("version-deployments")
    page.get_by_role("navigation", name="Version sections").get_by_role("link", name="Details").click()
    page.get_by_text("Archive this version").click()
    page.locator("#f-archive").fill("1.0.0")
    page.get_by_role("button", name="Archive", exact=True).click()
    assert "fraud-svc" in page.locator("#e-archive").inner_text()
    w.check("archive-refused")
    page.get_by_role("link", name="See the deployments").click()
    page.get_by_role("link", name="Edit fraud-svc").click()
    w.check("deployment")
    page.locator("#f-runtime").fill("vllm")
    page.get_by_label("Undeployed (recorded, not serving)").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Deployment saved.")
    assert page.locator("dd", has_text="vllm").is_visible()
    page.locator("#f-confirm").fill("fraud")
    page.get_by_role("button", name="Delete deployment").click()
    assert page.locator("#e-confirm").is_visible() and page.locator("#f-confirm").input_value() == "fraud"
    w.check("deployment-delete-refused")
    page.locator("#f-confirm").fill("fraud-svc")
    page.get_by_role("button", name="Delete deployment").click()
    page.wait_for_selector("text=Deployment fraud-svc deleted.")
    assert page.get_by_text("Not deployed.").is_visible()
    page.get_by_role("navigation", name="Version sections").get_by_role("link", name="Details").click()
    page.get_by_text("Archive this version").click()
    page.locator("#f-archive").fill("1.0.0")
    page.get_by_role("button", name="Archive", exact=True).click()
    page.wait_for_selector("text=Archived.")
    w.check("version-archived")

    # archive (typed confirmation), see it archived, restore
    page.get_by_role("link", name="fraud-detector").first.click()
    page.get_by_text("Archive this model").click()
    page.get_by_label("Type fraud-detector to confirm").first.fill("fraud-detector")
    page.get_by_role("button", name="Archive", exact=True).click()
    page.wait_for_selector("text=Archived.")
    page.get_by_role("link", name="Archived", exact=True).click()
    w.check("archived")
    page.get_by_role("button", name="Restore fraud-detector").click()
    page.wait_for_selector("text=Restored.")

    # delete (typed)
    page.get_by_text("Delete this model for good").click()
    page.locator("#f-delete").fill("fraud-detector")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_selector("text=Model deleted.")

    # create a registry, register in it, grant a user, make the user's token
    page.get_by_role("link", name="Registries").click()
    page.get_by_label("Name").fill("team-a")
    page.get_by_label("Description").fill("Team A's models")
    page.get_by_role("button", name="Create registry").click()
    page.wait_for_selector("text=Registry team-a created.")
    w.check("registries")
    page.get_by_role("link", name="Edit team-a").click()
    assert page.get_by_label("CA certificate to secure the database connection").is_visible()
    w.check("registry-edit")
    w.go("/registries/team-a/models/new")
    page.get_by_label("Model name").fill("team-a-model")
    page.get_by_label("Version name").fill("1")
    page.locator('input[value="uri"]').check()
    page.locator("#f-uri").fill("oci://quay.io/acme/a:1")
    page.get_by_role("button", name="Register model").click()
    page.wait_for_selector("text=Model registered.")
    w.go("/admin/registries/team-a/permissions")
    page.get_by_label("User, group or service account name").fill("bob")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Grant").click()
    page.wait_for_selector("text=bob is now viewer.")
    w.check("permissions")
    page.get_by_role("link", name="Tokens").click()
    page.locator("#f-user").fill("bob")
    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    bob = page.locator("#secret").input_value()
    assert bob.startswith("mrg_")
    w.check("token-created")

    # sign out, sign in as bob: only team-a, read-only
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API token").fill(bob)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    w.go("/registries/team-a/models")
    assert page.get_by_role("link", name="team-a-model").is_visible()
    assert page.get_by_role("link", name="Register model").count() == 0
    assert page.get_by_role("link", name="Registries").count() == 0
    options = page.locator("#registry-picker option").all_inner_texts()
    assert options == ["team-a"]
    w.check("bob-team-a")
    w.go("/models")
    assert "Not found" in page.content()
    w.check("bob-default-refused")
    ctx.close()
    assert not w.violations, "accessibility violations:\n" + "\n".join(w.violations)
