import pytest

from tools.images import registry


@pytest.mark.parametrize(
    ("repository", "remote"),
    [
        ("jupyterhub-k8s/hub", "reg.example/org/jupyterhub-k8s/hub"),
        ("quay.io/keycloak/keycloak", "reg.example/org/keycloak/keycloak"),
        ("localhost:5000/x/y", "reg.example/org/x/y"),
    ],
)
def test_remote_name_drops_an_upstream_registry_host(repository: str, remote: str) -> None:
    assert registry.remote_name("reg.example/org/", repository) == remote
