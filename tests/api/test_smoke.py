from fastapi.testclient import TestClient

from tests.conftest import V1


def test_create_and_read_model(client: TestClient) -> None:
    r = client.post(f"{V1}/registered_models", json={"name": "m"})
    assert r.status_code == 201, r.text
    got = client.get(f"{V1}/registered_models/{r.json()['id']}")
    assert got.json()["name"] == "m"
