"""User servers on their own origin (JupyterHub's `subdomain_host`): a student's server must not
serve script on the hub's origin, where it would act as whoever opens it (an admin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_render import DEV_VALUES, PRODUCTION_VALUES, RELEASE, find, render, render_error

FULLNAME = f"{RELEASE}-jupyterhub-k8s"
SUBDOMAIN_HOST = "hub.config.JupyterHub.subdomain_host"


def proxy_command(manifests: list[dict[str, Any]]) -> list[str]:
    proxy = find(manifests, "Deployment", f"{FULLNAME}-proxy")
    return proxy["spec"]["template"]["spec"]["containers"][0]["command"]


def values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "origins.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_production_serves_each_user_on_a_subdomain() -> None:
    production = yaml.safe_load(PRODUCTION_VALUES.read_text())
    assert production["hub"]["config"]["JupyterHub"]["subdomain_host"] == (
        "https://jupyter.example.edu"
    )
    manifests = render(PRODUCTION_VALUES)
    # JupyterHub adds host-based routes ("student.jupyter.example.edu/user/student/"):
    # configurable-http-proxy only matches them with --host-routing.
    assert "--host-routing" in proxy_command(manifests)
    ingress = find(manifests, "Ingress", FULLNAME)
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == ["jupyter.example.edu", "*.jupyter.example.edu"]
    assert ingress["spec"]["tls"][0]["hosts"] == hosts


def test_z2jh_spelling_turns_on_host_routing() -> None:
    assert "--host-routing" not in proxy_command(render(DEV_VALUES))
    routed = render(DEV_VALUES, sets=(f"{SUBDOMAIN_HOST}=http://localhost:30080",))
    assert "--host-routing" in proxy_command(routed)


@pytest.mark.parametrize(
    "subdomain_host",
    ["jupyter.example.edu", "https://jupyter.example.edu/hub", "https://jupyter.example.edu/"],
)
def test_subdomain_host_must_be_scheme_host_and_port(tmp_path: Path, subdomain_host: str) -> None:
    jupyterhub = {"subdomain_host": subdomain_host}
    path = values_file(tmp_path, {"hub": {"config": {"JupyterHub": jupyterhub}}})
    message = render_error(DEV_VALUES, path)
    assert "/hub/config/JupyterHub/subdomain_host" in message


def test_ingress_must_answer_for_the_users_subdomains(tmp_path: Path) -> None:
    path = values_file(tmp_path, {"ingress": {"hosts": ["jupyter.example.edu"]}})
    message = render_error(PRODUCTION_VALUES, path)
    assert (
        "hub.config.JupyterHub.subdomain_host puts user servers on *.jupyter.example.edu, "
        "but ingress.hosts does not list *.jupyter.example.edu" in message
    )
