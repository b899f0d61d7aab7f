"""Every page and form of the web UI over HTTP, in single-user mode (no sign-in)."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from tests.ui.conftest import V1, no_trace, seed_model, seed_version


def test_home_lists_models_with_latest_version_and_labels(ui: TestClient) -> None:
    m = seed_model(ui, customProperties={"nlp": {"metadataType": "MetadataStringValue", "string_value": ""}})
    seed_version(ui, m["id"], "1.0.0")
    seed_version(ui, m["id"], "1.1.0")
    for path in ("/", "/models"):
        r = ui.get(path)
        assert r.status_code == 200, r.text
        assert "text/html" in r.headers["content-type"]
        assert "fraud-detector" in r.text and "card fraud scoring" in r.text
        assert "1.1.0" in r.text and "<li>nlp</li>" in r.text
        no_trace(r)


def test_empty_catalog_invites_registration(ui: TestClient) -> None:
    r = ui.get("/models")
    assert "No models yet" in r.text and "/models/new" in r.text


def test_search_matches_name_description_label_owner_and_property_values(ui: TestClient) -> None:
    seed_model(ui, "alpha", description="speech to text")
    seed_model(ui, "beta", owner="zoe",
               customProperties={"team": {"metadataType": "MetadataStringValue", "string_value": "Risk-Ops"},
                                 "vision": {"metadataType": "MetadataStringValue", "string_value": ""}})  # fmt: skip
    gamma = seed_model(ui, "gamma")
    seed_version(ui, gamma["id"], "quantized-int8")

    def names(**q: str) -> set[str]:
        html = ui.get("/models", params=q).text
        return set(re.findall(r"<strong>([a-z]+)</strong>", html))

    assert names(q="SPEECH") == {"alpha"}
    assert names(q="risk-ops") == {"beta"}
    assert names(q="vision") == {"beta"}
    assert names(q="zoe") == {"beta"}
    assert names(q="int8") == {"gamma"}
    assert names(owner="zoe") == {"beta"}
    assert names(q="100%") == set()  # LIKE wildcards are literal


def test_sort_and_keyset_paging(ui: TestClient) -> None:
    for i in range(25):
        seed_model(ui, f"m{i:02d}")
    first = ui.get("/models", params={"sort": "name", "order": "asc", "size": "10"})
    names = re.findall(r"<strong>(m\d\d)</strong>", first.text)
    assert names == [f"m{i:02d}" for i in range(10)]
    nxt = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert nxt
    second = ui.get(nxt.group(1).replace("&amp;", "&"))
    assert re.findall(r"<strong>(m\d\d)</strong>", second.text)[0] == "m10"
    bad = ui.get("/models", params={"sort": "name", "after": "garbage"})
    assert bad.status_code == 200 and "not one this server issued" in bad.text


def test_htmx_search_returns_only_the_table(ui: TestClient) -> None:
    seed_model(ui, "alpha")
    r = ui.get("/models", params={"q": "alp"}, headers={"hx-request": "true", "hx-target": "results"})
    assert "<html" not in r.text and "alpha" in r.text


def test_model_page_tabs(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(
        ui,
        m["id"],
        "1.0.0",
        uri="s3://models/fraud?endpoint=https%3A%2F%2Fs3.example.com&defaultRegion=eu-west-1",
    )
    for tab in ("overview", "versions", "deployments", "history"):
        r = ui.get(f"/models/{m['id']}", params={"tab": tab})
        assert r.status_code == 200, r.text
        no_trace(r)
    assert "1.0.0" in ui.get(f"/models/{m['id']}", params={"tab": "versions"}).text
    assert "create" in ui.get(f"/models/{m['id']}", params={"tab": "history"}).text
    r = ui.get(f"/versions/{v['id']}")
    assert r.status_code == 200
    assert "s3.example.com" in r.text and "eu-west-1" in r.text and "onnx" in r.text
    for tab in ("deployments", "history"):
        assert ui.get(f"/versions/{v['id']}", params={"tab": tab}).status_code == 200


def test_missing_model_is_a_friendly_404(ui: TestClient) -> None:
    r = ui.get("/models/999999")
    assert r.status_code == 404 and "Not found" in r.text and "registered model with id 999999" in r.text
    no_trace(r)
    r = ui.get("/models/abc")
    assert r.status_code == 400 and "<html" in r.text
    r = ui.get("/no/such/page")
    assert r.status_code == 404 and "There is no page at this address" in r.text


def test_api_callers_still_get_json_errors(ui: TestClient) -> None:
    r = ui.get(f"{V1}/registered_models/999999")
    assert r.status_code == 404 and r.json()["code"] == "Not Found"


def test_edit_description_labels_and_properties(ui: TestClient) -> None:
    m = seed_model(ui)
    base = f"/models/{m['id']}"
    r = ui.post(f"{base}/details", data={"description": "new words", "owner": "zoe"})
    assert r.status_code == 200 and "new words" in r.text and "Saved." in r.text
    r = ui.post(f"{base}/labels", data={"labels": "nlp, prod , nlp"})
    assert "<li>nlp</li>" in r.text and "<li>prod</li>" in r.text
    r = ui.post(f"{base}/properties", data={"key": "license", "value": "apache-2.0"})
    assert "apache-2.0" in r.text
    r = ui.post(f"{base}/properties", data={"key": "licence", "value": "mit", "original": "license"})
    assert "mit" in r.text and "apache-2.0" not in r.text
    r = ui.post(f"{base}/properties", data={"key": "", "value": "x"})
    assert 'id="e-property"' in r.text and "needs a key" in r.text
    r = ui.post(f"{base}/properties", data={"key": "prod", "value": "x"})
    assert "already a property or label" in r.text
    r = ui.post(f"{base}/properties/delete", data={"key": "licence"})
    assert "mit</td>" not in r.text
    got = ui.get(f"{V1}/registered_models/{m['id']}").json()
    assert got["description"] == "new words" and got["owner"] == "zoe"
    assert set(got["customProperties"]) == {"nlp", "prod"}
    long_label = "x" * 200
    r = ui.post(f"{base}/labels", data={"labels": long_label})
    assert 'id="e-labels"' in r.text and long_label in r.text  # nothing typed is lost


def test_version_properties_keep_their_type(ui: TestClient) -> None:
    m = seed_model(ui)
    v = ui.post(
        f"{V1}/registered_models/{m['id']}/versions",
        json={
            "name": "1",
            "registeredModelId": m["id"],
            "customProperties": {"auc": {"metadataType": "MetadataDoubleValue", "double_value": 0.9}},
        },
    ).json()
    ui.post(f"/versions/{v['id']}/properties", data={"key": "auc", "value": "0.95", "original": "auc"})
    got = ui.get(f"{V1}/model_versions/{v['id']}").json()["customProperties"]["auc"]
    assert got == {"metadataType": "MetadataDoubleValue", "double_value": 0.95}


def test_archive_needs_typed_name_and_is_refused_while_deployed(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"])
    base = f"/models/{m['id']}"
    r = ui.post(f"{base}/archive", data={"confirm": "wrong"})
    assert 'id="e-archive"' in r.text and "Type the name" in r.text
    env = ui.post(f"{V1}/serving_environments", json={"name": "prod"}).json()
    svc = ui.post(
        f"{V1}/inference_services",
        json={
            "name": "fraud-svc",
            "servingEnvironmentId": env["id"],
            "registeredModelId": m["id"],
            "modelVersionId": v["id"],
            "desiredState": "DEPLOYED",
        },
    ).json()
    r = ui.post(f"{base}/archive", data={"confirm": "fraud-detector"})
    assert 'id="e-archive"' in r.text and "fraud-svc" in r.text
    assert ui.get("/models").text.count("fraud-detector") >= 1
    assert ">1</td>" in ui.get("/models").text  # the deployments column
    ui.patch(f"{V1}/inference_services/{svc['id']}", json={"desiredState": "UNDEPLOYED"})
    r = ui.post(f"{base}/archive", data={"confirm": "fraud-detector"})
    assert "Archived." in r.text
    assert "fraud-detector" not in ui.get("/models").text
    archived = ui.get("/archived")
    assert "fraud-detector" in archived.text
    assert "1.0.0" in ui.get("/archived", params={"tab": "versions"}).text
    r = ui.post(f"{base}/restore")
    assert "Restored." in r.text
    assert "fraud-detector" in ui.get("/models").text
    assert ui.get(f"{V1}/model_versions/{v['id']}").json()["state"] == "LIVE"


def test_archive_and_restore_a_version(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"], "2.0")
    r = ui.post(f"/versions/{v['id']}/archive", data={"confirm": "2.0"})
    assert "Archived." in r.text
    assert "2.0" in ui.get("/archived", params={"tab": "versions"}).text
    r = ui.post(f"/versions/{v['id']}/restore")
    assert "Restored." in r.text


def test_delete_model_and_version(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"], "0.1")
    r = ui.post(f"/versions/{v['id']}/delete", data={"confirm": "nope"})
    assert 'id="e-delete"' in r.text
    r = ui.post(f"/versions/{v['id']}/delete", data={"confirm": "0.1"})
    assert "Version deleted." in r.text
    r = ui.post(f"/models/{m['id']}/delete", data={"confirm": "fraud-detector"})
    assert "Model deleted." in r.text and "fraud-detector</strong>" not in r.text
    assert ui.get(f"{V1}/registered_models/{m['id']}").status_code == 404


def test_register_model_with_object_storage(ui: TestClient) -> None:
    r = ui.get("/models/new")
    assert r.status_code == 200 and 'for="f-endpoint"' in r.text
    r = ui.post(
        "/models/new",
        data={
            "name": "churn",
            "description": "who leaves",
            "version_name": "1.0",
            "format": "onnx",
            "format_version": "1",
            "location": "object-storage",
            "endpoint": "https://s3.example.com",
            "bucket": "models",
            "region": "us-east-1",
            "path": "churn/1.0",
        },
    )
    assert r.status_code == 200 and "Model registered." in r.text, r.text
    models = ui.get(f"{V1}/registered_models").json()["items"]
    assert [x["name"] for x in models] == ["churn"] and models[0]["owner"] == "ana"
    versions = ui.get(f"{V1}/registered_models/{models[0]['id']}/versions").json()["items"]
    a = ui.get(f"{V1}/model_versions/{versions[0]['id']}/artifacts").json()["items"][0]
    assert a["uri"] == "s3://models/churn/1.0?endpoint=https%3A%2F%2Fs3.example.com&defaultRegion=us-east-1"
    assert a["modelFormatName"] == "onnx"


def test_register_model_errors_beside_fields_and_keep_input(ui: TestClient) -> None:
    r = ui.post("/models/new", data={"name": "", "description": "kept words", "version_name": "v" * 200,
                                     "location": "object-storage", "endpoint": "s3.example.com",
                                     "bucket": "b", "path": "/"})  # fmt: skip
    assert r.status_code == 200
    for f in ("name", "version_name", "endpoint", "path"):
        assert f'id="e-{f}"' in r.text, f
    assert "kept words" in r.text and "v" * 200 in r.text
    r = ui.post("/models/new", data={"name": "x", "version_name": "1", "location": "uri", "uri": "no-scheme"})
    assert 'id="e-uri"' in r.text
    seed_model(ui, "taken")
    r = ui.post(
        "/models/new", data={"name": "taken", "version_name": "1", "location": "uri", "uri": "oci://q/x:1"}
    )
    assert 'id="e-name"' in r.text and "already exists" in r.text
    assert len(ui.get(f"{V1}/registered_models").json()["items"]) == 1  # nothing half-made


def test_register_new_version_is_prefilled(ui: TestClient) -> None:
    m = seed_model(ui)
    seed_version(
        ui,
        m["id"],
        "1.0.0",
        uri="s3://models/fraud?endpoint=https%3A%2F%2Fs3.example.com&defaultRegion=eu-west-1",
    )
    r = ui.get(f"/models/{m['id']}/versions/new")
    assert (
        'value="eu-west-1"' in r.text
        and 'value="onnx"' in r.text
        and "Prefilled from the latest version" in r.text
    )
    r = ui.post(
        f"/models/{m['id']}/versions/new",
        data={"version_name": "1.0.0", "location": "uri", "uri": "oci://q/x:1"},
    )
    assert 'id="e-version_name"' in r.text and "already has a version" in r.text
    r = ui.post(
        f"/models/{m['id']}/versions/new",
        data={"version_name": "2.0.0", "location": "uri", "uri": "oci://q/x:2"},
    )
    assert "Version registered." in r.text and "oci://q/x:2" in r.text


def test_register_for_upload_opens_the_upload_form_with_the_format_typed(ui: TestClient) -> None:
    r = ui.post(
        "/models/new",
        data={
            "name": "up",
            "version_name": "1",
            "location": "upload",
            "format": "onnx",
            "format_version": "17",
        },
    )
    assert "now upload its files" in r.text and "data-upload" in r.text
    assert 'name="format" type="text" value="onnx"' in r.text
    assert 'name="format_version" type="text" value="17"' in r.text
    m = ui.get(f"{V1}/registered_models").json()["items"][0]
    r = ui.post(
        f"/models/{m['id']}/versions/new",
        data={"version_name": "2", "location": "upload", "format": "pytorch", "format_version": "2.1"},
    )
    assert "now upload its files" in r.text and 'value="pytorch"' in r.text and 'value="2.1"' in r.text


def test_static_assets(ui: TestClient) -> None:
    for name, kind in (("modelreg.css", "text/css"), ("modelreg.js", "javascript"),
                       ("vendor/htmx.min.js", "javascript")):  # fmt: skip
        r = ui.get(f"/ui/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]


def test_registry_scoped_pages(ui: TestClient) -> None:
    r = ui.post("/admin/registries", data={"name": "team-a", "description": "team A"})
    assert "Registry team-a created." in r.text
    ui.post(
        "/registries/team-a/models/new",
        data={"name": "scoped", "version_name": "1", "location": "uri", "uri": "oci://q/s:1"},
    )
    assert "scoped" in ui.get("/registries/team-a/models").text
    assert "scoped" not in ui.get("/models").text
    assert 'value="/registries/team-a/models"' in ui.get("/models").text  # the picker


def test_admin_registries_tokens_and_permissions(ui: TestClient) -> None:
    r = ui.post("/admin/registries", data={"name": "Bad Name"})
    assert 'id="e-name"' in r.text and "Bad Name" in r.text
    ui.post("/admin/registries", data={"name": "team-b"})
    r = ui.post("/admin/registries/team-b", data={"description": "described"})
    assert "described" in r.text
    r = ui.post(
        "/admin/registries/team-b/permissions",
        data={"subject_kind": "user", "subject": "bob", "role": "viewer"},
    )
    assert "bob is now viewer" in r.text
    r = ui.post(
        "/admin/registries/team-b/permissions", data={"subject_kind": "user", "subject": "", "role": "viewer"}
    )
    assert 'id="e-subject"' in r.text
    r = ui.post(
        "/admin/registries/team-b/permissions/revoke", data={"subject_kind": "user", "subject": "bob"}
    )
    assert "Access of bob removed" in r.text
    r = ui.post("/admin/tokens", data={"user": "bob", "name": "laptop"})
    secret = re.search(r'id="secret" readonly value="([^"]+)"', r.text)
    assert secret and secret.group(1).startswith("mrg_")
    assert secret.group(1) not in ui.get("/admin/tokens").text  # shown once
    r = ui.post("/admin/tokens", data={"user": "", "days": "x"})
    assert 'id="e-user"' in r.text and 'id="e-days"' in r.text
    tid = re.search(r"/admin/tokens/(\d+)/revoke", ui.get("/admin/tokens").text)
    assert tid
    r = ui.post(f"/admin/tokens/{tid.group(1)}/revoke")
    assert "revoked" in r.text
    r = ui.post("/admin/registries/team-b/delete", data={"confirm": "team"})
    assert 'id="e-confirm"' in r.text
    r = ui.post("/admin/registries/team-b/delete", data={"confirm": "team-b"})
    assert r.status_code == 200 and "team-b</strong>" not in r.text


def _deploy(ui: TestClient, version_id: str, **fields: str) -> httpx.Response:
    data = {"name": "fraud-svc", "environment": "new", "new_environment": "prod", "serves": "version",
            "runtime": "kserve-ovms", "desired_state": "DEPLOYED", **fields}  # fmt: skip
    return ui.post(f"/versions/{version_id}/deploy", data=data)


def test_deploy_a_version_and_see_it_on_both_tabs(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"], "1.0.0")
    r = ui.get(f"/versions/{v['id']}/deploy")
    assert r.status_code == 200 and 'value="fraud-detector"' in r.text  # the name starts as the model's
    assert '<option value="new" selected>' in r.text  # no environment yet: a new one
    r = _deploy(ui, v["id"], description="card scoring in prod")
    assert r.status_code == 200 and "Deployment fraud-svc created." in r.text, r.text
    assert "fraud-svc" in r.text and "kserve-ovms" in r.text and "Deployed" in r.text
    svc = ui.get(f"{V1}/inference_services").json()["items"][0]
    assert svc["registeredModelId"] == m["id"] and svc["modelVersionId"] == v["id"]
    assert svc["runtime"] == "kserve-ovms" and svc["desiredState"] == "DEPLOYED"
    assert svc["description"] == "card scoring in prod"
    env = ui.get(f"{V1}/serving_environments").json()["items"]
    assert [e["name"] for e in env] == ["prod"] and svc["servingEnvironmentId"] == env[0]["id"]
    r = ui.get(f"/models/{m['id']}", params={"tab": "deployments"})
    assert "fraud-svc" in r.text and "prod" in r.text and f"/deployments/{svc['id']}" in r.text
    assert "Deployments (1)" in r.text
    r = ui.get(f"/versions/{v['id']}/deploy")  # now the environment is offered
    assert f'<option value="{env[0]["id"]}" selected>prod</option>' in r.text
    r = _deploy(ui, v["id"], name="latest-svc", environment=env[0]["id"], serves="latest",
                desired_state="UNDEPLOYED")  # fmt: skip
    assert "Deployment latest-svc created." in r.text and "Latest version" in r.text
    assert len(ui.get(f"{V1}/serving_environments").json()["items"]) == 1
    r = _deploy(ui, v["id"], new_environment="prod", name="again")  # a known name is reused
    assert "Deployment again created." in r.text
    assert len(ui.get(f"{V1}/serving_environments").json()["items"]) == 1


def test_deploy_form_errors_beside_fields_and_keep_input(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"], "1.0.0")
    r = _deploy(ui, v["id"], name="", new_environment="", runtime="r" * 200, desired_state="RUNNING",
                description="kept words")  # fmt: skip
    assert r.status_code == 200
    for f in ("name", "new_environment", "runtime", "desired_state"):
        assert f'id="e-{f}"' in r.text, f
    assert "kept words" in r.text and "r" * 200 in r.text
    r = _deploy(ui, v["id"], environment="123456")
    assert 'id="e-environment"' in r.text
    assert _deploy(ui, v["id"]).status_code == 200
    r = _deploy(ui, v["id"], description="second")
    assert 'id="e-name"' in r.text and "already has a deployment" in r.text and "second" in r.text
    assert len(ui.get(f"{V1}/inference_services").json()["items"]) == 1
    ui.post(f"/models/{m['id']}/archive", data={"confirm": "fraud-detector"})  # refused: deployed
    assert ui.get(f"{V1}/registered_models/{m['id']}").json()["state"] == "LIVE"


def test_deploying_an_archived_model_is_refused_in_the_form(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"], "1.0.0")
    ui.post(f"/models/{m['id']}/archive", data={"confirm": "fraud-detector"})
    r = _deploy(ui, v["id"])
    assert r.status_code == 200 and "ARCHIVED" in r.text and 'role="alert"' in r.text
    assert ui.get(f"{V1}/inference_services").json()["items"] == []
    assert ui.get(f"{V1}/serving_environments").json()["items"] == []  # nothing half-made


def test_edit_and_delete_a_deployment(ui: TestClient) -> None:
    m = seed_model(ui)
    v = seed_version(ui, m["id"], "1.0.0")
    _deploy(ui, v["id"])
    sid = ui.get(f"{V1}/inference_services").json()["items"][0]["id"]
    r = ui.get(f"/deployments/{sid}")
    assert r.status_code == 200 and "fraud-svc" in r.text and "set its desired state to Undeployed" in r.text
    r = ui.post(f"/deployments/{sid}", data={"runtime": "x" * 200, "desired_state": "DEPLOYED",
                                            "description": "kept"})  # fmt: skip
    assert 'id="e-runtime"' in r.text and "x" * 200 in r.text and "kept" in r.text
    r = ui.post(f"/deployments/{sid}/delete", data={"confirm": "fraud"})
    assert 'id="e-confirm"' in r.text and "Type the deployment" in r.text and 'value="fraud"' in r.text
    r = ui.post(f"/deployments/{sid}/delete", data={"confirm": "fraud-svc"})
    assert 'id="e-confirm"' in r.text and "DEPLOYED" in r.text  # the service refuses: deployed
    r = ui.post(f"/models/{m['id']}/archive", data={"confirm": "fraud-detector"})
    assert 'id="e-archive"' in r.text and "fraud-svc" in r.text and "See the deployments" in r.text
    r = ui.post(f"/deployments/{sid}", data={"runtime": "vllm", "desired_state": "UNDEPLOYED",
                                            "description": "off for now"})  # fmt: skip
    assert "Deployment saved." in r.text and "vllm" in r.text and "off for now" in r.text
    got = ui.get(f"{V1}/inference_services/{sid}").json()
    assert got["runtime"] == "vllm" and got["desiredState"] == "UNDEPLOYED"
    r = ui.post(f"/deployments/{sid}/delete", data={"confirm": "fraud-svc"})
    assert "Deployment fraud-svc deleted." in r.text and f"/versions/{v['id']}" in str(r.url)
    assert ui.get(f"{V1}/inference_services/{sid}").status_code == 404
    r = ui.post(f"/models/{m['id']}/archive", data={"confirm": "fraud-detector"})
    assert "Archived." in r.text


def test_deployment_pages_answer_4xx_for_bad_ids(ui: TestClient) -> None:
    for path in ("/deployments/abc", "/versions/abc/deploy"):
        r = ui.get(path)
        assert r.status_code == 400 and "<html" in r.text, path
        no_trace(r)
    for path in ("/deployments/999999", "/versions/999999/deploy"):
        r = ui.get(path)
        assert r.status_code == 404 and "not found" in r.text, path
        no_trace(r)
    for path in ("/deployments/999999", "/deployments/999999/delete", "/versions/999999/deploy"):
        r = ui.post(path, data={"confirm": "x", "desired_state": "DEPLOYED", "name": "x",
                                "new_environment": "e", "serves": "version"})  # fmt: skip
        assert r.status_code == 404, (path, r.status_code)
        no_trace(r)


def test_admin_registry_ca_certificate_errors_beside_the_field(ui: TestClient) -> None:
    r = ui.get("/admin/registries")
    assert 'id="f-tls_ca"' in r.text and "Or read it from a PEM file" in r.text
    pem = "-----BEGIN CERTIFICATE-----\nkept\n-----END CERTIFICATE-----"
    r = ui.post("/admin/registries", data={"name": "secure", "description": "kept words", "tls_ca": pem})
    assert r.status_code == 200 and 'id="e-tls_ca"' in r.text and "PostgreSQL or MySQL" in r.text
    assert "kept words" in r.text and "-----BEGIN CERTIFICATE-----\nkept" in r.text
    assert "secure</strong>" not in r.text  # nothing made
    r = ui.post(
        "/admin/registries",
        data={"name": "secure", "database_url": "postgresql://u@127.0.0.1:1/db", "tls_ca": "not pem"},
    )
    assert 'id="e-tls_ca"' in r.text and "PEM" in r.text
    ui.post("/admin/registries", data={"name": "plain"})
    r = ui.get("/admin/registries/plain")
    assert "no CA certificate" in r.text and "Remove the CA certificate" not in r.text
    r = ui.post("/admin/registries/plain", data={"description": "d", "tls_ca": pem})
    assert 'id="e-tls_ca"' in r.text and "SQLite" in r.text
    assert ui.get("/admin/registries/nope").status_code == 404
