"""An OCI registry on this machine: CNCF Distribution's `registry`, built by `tools.binaries`.

One configuration (`config()`) serves both ways it runs: as a host process on a loopback port
(`serve()`, for tests of the release tooling), and as the container the kind nodes pull from
(`ensure_running()`). Storage is a folder; the registry accepts plain HTTP, which Docker, Helm
and containerd allow for loopback addresses and for the registries a node's containerd
configuration names.

The container (`CONTAINER`) is published on the host as `HOST_ENDPOINT` (what Docker pushes to
and `helm push oci://localhost:5001/...` uses) and sits on kind's Docker network, where the nodes
reach it by its container name. `write_hosts_files()` writes the nodes' containerd registry
configuration (hosts.toml files, mounted at /etc/containerd/certs.d): `localhost:5001` and the
upstream registries (`MIRRORED_REGISTRIES`) all resolve to this registry only, so an image a node
runs is one that was pushed here, under the name `tools.images.registry.remote_name` gives it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

from tools import binaries, docker
from tools.bootstrap import dockerd
from tools.bootstrap.paths import cache_dir, logs_dir
from tools.bootstrap.run import RunError, succeeds

READY_WAIT_S = 30
CONTAINER = "jupyterhub-k8s-registry"
NETWORK = "kind"  # the Docker network kind puts the nodes on
PORT_IN_CONTAINER = 5000
HOST_ENDPOINT = "localhost:5001"
HOST_PORT = 5001
NODE_ENDPOINT = f"{CONTAINER}:{PORT_IN_CONTAINER}"  # the registry as the nodes reach it
# Where the binary, the configuration and the storage are inside the container.
BINARY_IN_CONTAINER = "/usr/local/bin/registry"
CONFIG_IN_CONTAINER = "/etc/distribution/config.json"
STORAGE_IN_CONTAINER = "/var/lib/registry"
# The label that records what the container was made from: it is recreated when that changes.
RECIPE_LABEL = "org.jupyterhub-k8s.registry-recipe"
# Upstream registries whose names the nodes resolve through this registry (nothing else): an
# upstream image keeps its name (debian:bookworm-slim is docker.io/library/debian) and is pushed
# here under its path, as `remote_name` names it.
MIRRORED_REGISTRIES = ("docker.io", "quay.io", "registry.k8s.io", "ghcr.io")
# The manifest media types a pushed image or chart may have (an index for multi-platform images).
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


class RegistryNotReady(RuntimeError):
    """The registry did not answer on /v2/ in time; the message names its log."""


def config(root_directory: str, address: str) -> str:
    """The registry's configuration file: filesystem storage, deletes allowed (a re-release of
    identical content replaces nothing, but tests clean up), no authentication."""
    return json.dumps(
        {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": root_directory},
                "delete": {"enabled": True},
            },
            "http": {"addr": address, "headers": {"X-Content-Type-Options": ["nosniff"]}},
        },
        indent=2,
    )


def answers(endpoint: str) -> bool:
    """True when the registry at `host:port` answers the OCI distribution API's base URL."""
    try:
        with urllib.request.urlopen(f"http://{endpoint}/v2/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def served_digest(endpoint: str, repository: str, reference: str) -> str | None:
    """The digest the registry at `endpoint` serves for `repository`'s tag or digest
    `reference` (its Docker-Content-Digest header), or None when it holds no such manifest."""
    request = urllib.request.Request(
        f"http://{endpoint}/v2/{repository}/manifests/{reference}",
        method="HEAD",
        headers={"Accept": ", ".join(MANIFEST_TYPES)},
    )
    try:
        # The URL is a registry on this machine (the local one, or one a test started).
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.headers["Docker-Content-Digest"]
    except urllib.error.HTTPError as error:
        if error.code == HTTPStatus.NOT_FOUND:
            return None
        raise


def delete_manifest(endpoint: str, repository: str, digest: str) -> bool:
    """Delete `repository`'s manifest `digest` from the registry at `endpoint` (its
    configuration allows deletes); False when it held none."""
    request = urllib.request.Request(
        f"http://{endpoint}/v2/{repository}/manifests/{digest}", method="DELETE"
    )
    try:
        # The URL is a registry on this machine (the local one, or one a test started).
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status == HTTPStatus.ACCEPTED
    except urllib.error.HTTPError as error:
        if error.code == HTTPStatus.NOT_FOUND:
            return False
        raise


def wait_until_answers(endpoint: str, log: str) -> None:
    """Poll until the registry answers; `log` says where its log is, for the error."""
    deadline = time.monotonic() + READY_WAIT_S
    while not answers(endpoint):
        if time.monotonic() > deadline:
            raise RegistryNotReady(
                f"no registry answers at {endpoint} after {READY_WAIT_S} s; see {log}"
            )
        time.sleep(0.2)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(storage: Path) -> Iterator[str]:
    """A registry as a host process on a free loopback port, storing in `storage`; yields its
    `127.0.0.1:<port>` endpoint and stops it on exit."""
    storage.mkdir(parents=True, exist_ok=True)
    endpoint = f"127.0.0.1:{free_loopback_port()}"
    config_file = storage / "config.json"
    config_file.write_text(config(str(storage / "data"), endpoint))
    log = logs_dir() / f"registry-{endpoint.replace(':', '-')}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(binaries.ensure("registry")), "serve", str(config_file)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answers(endpoint, str(log))
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- The container the kind nodes pull from ---------------------------------------------------


def storage_dir() -> Path:
    return cache_dir() / "registry"


def state_dir() -> Path:
    """The container's configuration file and the nodes' hosts.toml files."""
    return cache_dir() / "registry-config"


def hosts_dir() -> Path:
    """Mounted into every node at /etc/containerd/certs.d (devenv.cluster_config)."""
    return state_dir() / "certs.d"


def hosts_toml(registry: str) -> str:
    """containerd's registry host configuration for `registry`: this registry, over plain HTTP,
    and no other host (`server` is the fallback containerd would try after the hosts)."""
    return (
        f"# {registry} on the kind nodes: the project's local registry only ({__name__}).\n"
        f'server = "http://{NODE_ENDPOINT}"\n'
        "\n"
        f'[host."http://{NODE_ENDPOINT}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )


def write_hosts_files() -> Path:
    """Write a hosts.toml per registry the nodes resolve (`localhost:5001` and the mirrored
    upstream ones); return the folder. containerd reads them at every pull."""
    folder = hosts_dir()
    for registry in (HOST_ENDPOINT, *MIRRORED_REGISTRIES):
        path = folder / registry / "hosts.toml"
        if not path.exists() or path.read_text() != hosts_toml(registry):
            mirror(registry)
    return folder


def mirror(registry: str) -> Path:
    """Resolve `registry` (a host name) on the nodes to this registry as well, from now on: the
    registry a staged release's chart names (tools.release `--published-as`)."""
    path = hosts_dir() / registry / "hosts.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(hosts_toml(registry))
    return path


def recipe(config_text: str, binary: Path, image: str) -> str:
    """A hash of what the container is made of: its configuration, the binary, the image."""
    digest = hashlib.sha256(config_text.encode())
    digest.update(hashlib.sha256(binary.read_bytes()).digest())
    digest.update(image.encode())
    return digest.hexdigest()


def container_recipe() -> str | None:
    """The recipe label of the running container; None when there is none or it is stopped."""
    try:
        inspected = docker.docker(
            "inspect", "--format", "{{.State.Running}} {{json .Config.Labels}}", CONTAINER
        )
    except RunError:
        return None
    running, _, labels = inspected.strip().partition(" ")
    return json.loads(labels).get(RECIPE_LABEL) if running == "true" else None


def network_exists() -> bool:
    return succeeds(["docker", "network", "inspect", NETWORK])


def on_network(name: str) -> bool:
    networks = docker.docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", name)
    return NETWORK in json.loads(networks)


def ensure_running() -> str:
    """Run the registry container, or keep the one that runs when it is made of the same
    configuration, binary and image and is on kind's network; return `HOST_ENDPOINT`.

    Before kind made its network (a release before any cluster), the container runs on
    Docker's default network; the cluster's bring-up runs this again and moves it onto kind's.
    The binary is static, so the Debian base image runs it; it runs as the calling user, so the
    storage in the cache stays theirs.
    """
    binary = binaries.ensure("registry")
    image = dockerd.ensure_base_image()
    config_text = config(STORAGE_IN_CONTAINER, f":{PORT_IN_CONTAINER}")
    config_file = state_dir() / "config.json"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(config_text)
    storage_dir().mkdir(parents=True, exist_ok=True)
    wanted = recipe(config_text, binary, image)
    network = ["--network", NETWORK] if network_exists() else []
    if container_recipe() == wanted and (not network or on_network(CONTAINER)):
        return HOST_ENDPOINT
    if succeeds(["docker", "inspect", CONTAINER]):
        docker.docker("rm", "--force", CONTAINER)
    docker.docker(
        "run", "--detach", "--name", CONTAINER, "--restart=always",
        *network, "--publish", f"127.0.0.1:{HOST_PORT}:{PORT_IN_CONTAINER}",
        "--user", f"{os.getuid()}:{os.getgid()}", "--label", f"{RECIPE_LABEL}={wanted}",
        "--volume", f"{binary}:{BINARY_IN_CONTAINER}:ro",
        "--volume", f"{config_file}:{CONFIG_IN_CONTAINER}:ro",
        "--volume", f"{storage_dir()}:{STORAGE_IN_CONTAINER}",
        image, BINARY_IN_CONTAINER, "serve", CONFIG_IN_CONTAINER,
    )  # fmt: skip
    wait_until_answers(f"127.0.0.1:{HOST_PORT}", f"`docker logs {CONTAINER}`")
    return HOST_ENDPOINT
