"""The kind node image `kindest/node:<kubernetes.version>`: present, pulled, or built offline.

The offline build (devenv/README.md) takes everything from package registries: Debian for the
base, systemd, containerd and runc; the Go module proxy for Kubernetes, etcd, CoreDNS, crictl,
the CNI plugins, kube-router and the local-path provisioner; pause is compiled from its C source
in the Kubernetes module. Each part is cached by version under `cache_dir()`, so a second build
reuses every part and says so.

CLI: `python -m devenv.node_image` prints the image name, building what is missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devenv import charts, cluster_config
from tools import docker, gobuild
from tools.bootstrap import dockerd, prerequisites, versions
from tools.bootstrap.paths import cache_dir
from tools.bootstrap.progress import say, step
from tools.bootstrap.run import RunError, run, succeeds
from tools.images import build, content, lock

NODE_IMAGE_REPOSITORY = "jupyterhub-k8s/kind-node"
CONTEXTS_DIR = Path(__file__).resolve().parent / "node-image"
PULL_TIMEOUT_S = 60
ETCD_MODULE = "go.etcd.io/etcd/server/v3"
# The Kubernetes commands in the node (kubelet, kubeadm, kubectl) and in the control-plane images.
NODE_COMMANDS = ("kubelet", "kubeadm", "kubectl")
CONTROL_PLANE_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
IMAGE_COMMANDS = (*CONTROL_PLANE_COMMANDS, "kube-proxy")
# kind applies these files of the node image at cluster creation: the templates of this chart.
NODE_MANIFESTS_CHART = cluster_config.KIND_DIR / "node-manifests"
MANIFESTS = ("default-cni.yaml", "default-storage.yaml")
NODE_PINS = (
    "kubernetes.version",
    "node.cri_tools",
    "node.cni_plugins",
    "node.kube_router",
    "node.local_path_provisioner",
)
CNI_PLUGINS = ("main/bridge", "main/loopback", "main/ptp", "ipam/host-local", "meta/portmap")


class NodeImageError(RuntimeError):
    """The node image could not be found or built; the message says which step failed."""


def builds_dir(name: str, version: str) -> Path:
    """The cache folder of one build output, keyed by its version."""
    return cache_dir() / "builds" / f"{name}-{version}"


def cached(title: str, outputs: list[Path], build: Callable[[], None]) -> None:
    """Run a build step unless all its outputs exist; say which of the two happened."""
    if all(path.exists() for path in outputs):
        say(f"    {title}: cached ({outputs[0].parent})")
        return
    with step(title):
        build()


# --- Binaries -----------------------------------------------------------------------------------


def kubernetes_bin() -> Path:
    """kubelet, kubeadm, kubectl and the control-plane binaries, built in one `go build`."""
    version = versions.get("kubernetes.version")
    bin_dir = builds_dir("kubernetes", version) / "bin"
    commands = (*NODE_COMMANDS, *IMAGE_COMMANDS)
    cached(
        f"build Kubernetes {version} ({', '.join(commands)})",
        [bin_dir / command for command in commands],
        lambda: gobuild.build_kubernetes(commands, bin_dir, version),
    )
    return bin_dir


def kubeadm_images(kubeadm: Path) -> dict[str, str]:
    """The images kubeadm expects, by short name (kube-apiserver, etcd, coredns, pause, ...)."""
    version = versions.get("kubernetes.version")
    images = run([kubeadm, "config", "images", "list", "--kubernetes-version", version]).split()
    return {image.rsplit("/", 1)[-1].split(":", 1)[0]: image for image in images}


def image_tag(image: str) -> str:
    return image.rsplit(":", 1)[-1]


def etcd_bin(etcd_image: str) -> Path:
    """etcd at the version of kubeadm's etcd image (tag `3.6.5-0` is etcd v3.6.5)."""
    version = "v" + image_tag(etcd_image).split("-", 1)[0]
    bin_dir = builds_dir("etcd", version) / "bin"
    # etcd's go.mod replaces its sibling modules with folders, so `go install` refuses it.
    cached(
        f"build etcd {version}",
        [bin_dir / "server"],
        lambda: gobuild.build_in_wrapper(ETCD_MODULE, version, [ETCD_MODULE], bin_dir),
    )
    return bin_dir / "server"


def coredns_bin(coredns_image: str) -> Path:
    version = image_tag(coredns_image)
    bin_dir = builds_dir("coredns", version) / "bin"
    cached(
        f"build CoreDNS {version}",
        [bin_dir / "coredns"],
        lambda: gobuild.go_install("github.com/coredns/coredns", version, bin_dir),
    )
    return bin_dir / "coredns"


def pause_bin(pause_image: str) -> Path:
    """pause, compiled statically from build/pause/linux/pause.c of the Kubernetes module."""
    version = image_tag(pause_image)
    binary = builds_dir("pause", version) / "bin" / "pause"

    def build() -> None:
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise NodeImageError("no C compiler to build pause (Debian: apt-get install gcc)")
        source = gobuild.module_dir(gobuild.KUBERNETES_MODULE, versions.get("kubernetes.version"))
        binary.parent.mkdir(parents=True, exist_ok=True)
        # The flags of build/pause/Makefile.
        pause_c = source / "build" / "pause" / "linux" / "pause.c"
        run(
            [
                compiler,
                "-Os",
                "-Wall",
                "-Werror",
                "-static",
                f"-DVERSION=v{version}",
                "-o",
                binary,
                pause_c,
            ],
        )

    cached(f"build pause {version}", [binary], build)
    return binary


def go_installed(name: str, package: str, version: str) -> Path:
    """A command from a module without `replace` directives, by `go install`."""
    bin_dir = builds_dir(name, version) / "bin"
    binary = bin_dir / package.rstrip("/").rsplit("/", 1)[-1]
    cached(
        f"build {name} {version}", [binary], lambda: gobuild.go_install(package, version, bin_dir)
    )
    return binary


def cni_plugins_bin() -> Path:
    version = versions.get("node.cni_plugins")
    bin_dir = builds_dir("cni-plugins", version) / "bin"
    packages = [f"github.com/containernetworking/plugins/plugins/{name}" for name in CNI_PLUGINS]

    def build() -> None:
        for package in packages:
            gobuild.go_install(package, version, bin_dir)

    cached(
        f"build CNI plugins {version}",
        [bin_dir / name.rsplit("/", 1)[-1] for name in CNI_PLUGINS],
        build,
    )
    return bin_dir


# --- Component images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentImage:
    """An image the node preloads: its name, the build context folder, and the binary it holds."""

    name: str
    context: str
    binary: Path
    command: str
    """The binary's file name in the build context and in the image."""

    def local_image(self) -> build.LocalImage:
        files = {
            path.relative_to(CONTEXTS_DIR / self.context).as_posix(): path
            for path in content.walk(CONTEXTS_DIR / self.context)
        }
        repository, _, tag = self.name.rpartition(":")
        return build.LocalImage(
            self.command,
            repository,
            {**files, self.command: self.binary},
            {"BINARY": self.command},
            dockerd.base_image(),
            tag=tag,
        )

    def build(self) -> lock.LockedImage:
        image = self.local_image()
        entry, built = build.ensure_local_image(
            image, lambda folder: content.write_context(image.files, folder), lock_file()
        )
        say(f"    image {self.name}: {'built' if built else 'cached (in Docker)'}")
        return entry


def lock_file() -> Path:
    """The lock of the node image and its parts: machine-local, so in the cache, not the repo."""
    return cache_dir() / "node-images.lock.json"


def component_images(kubernetes: Path, kubeadm: dict[str, str]) -> list[ComponentImage]:
    """Every image the node preloads, with the binary each one holds."""
    router = versions.get("node.kube_router")
    provisioner = versions.get("node.local_path_provisioner")
    static = [
        ComponentImage(kubeadm[name], "static", kubernetes / name, name)
        for name in CONTROL_PLANE_COMMANDS
    ]
    return [
        *static,
        ComponentImage(
            kubeadm["kube-proxy"], "kube-proxy", kubernetes / "kube-proxy", "kube-proxy"
        ),
        ComponentImage(kubeadm["etcd"], "static", etcd_bin(kubeadm["etcd"]), "etcd"),
        ComponentImage(kubeadm["coredns"], "coredns", coredns_bin(kubeadm["coredns"]), "coredns"),
        ComponentImage(kubeadm["pause"], "pause", pause_bin(kubeadm["pause"]), "pause"),
        ComponentImage(
            kube_router_image(),
            "kube-router",
            go_installed(
                "kube-router", "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router", router
            ),
            "kube-router",
        ),
        ComponentImage(
            local_path_provisioner_image(),
            "static",
            go_installed(
                "local-path-provisioner", "github.com/rancher/local-path-provisioner", provisioner
            ),
            "local-path-provisioner",
        ),
    ]


def kube_router_image() -> str:
    return f"docker.io/cloudnativelabs/kube-router:{versions.get('node.kube_router')}"


def local_path_provisioner_image() -> str:
    return f"docker.io/rancher/local-path-provisioner:{versions.get('node.local_path_provisioner')}"


def save_images(names: list[str], archive: Path) -> None:
    """One archive of all preloaded images (shared layers stored once), cached by version."""
    if archive.exists():
        say(f"    image archive: cached ({archive})")
        return
    with step(f"save {len(names)} images to {archive.name}"):
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".partial")
        docker.docker("save", "-o", str(partial), *names)
        partial.rename(archive)
        for stale in archive.parent.glob("images-*.tar"):
            if stale != archive:
                stale.unlink()


# --- The node image -----------------------------------------------------------------------------


def manifest_values() -> dict[str, Any]:
    """The node manifests chart's values: the images the node preloads, by their pinned names."""
    return {
        "images": {
            "kubeRouter": kube_router_image(),
            "localPathProvisioner": local_path_provisioner_image(),
            "helper": dockerd.base_image(),
        }
    }


def stage_node_context(
    kubernetes: Path, crictl: Path, cni: Path, archive: Path, pause_image: str, staging: Path
) -> None:
    """The node's build context: its folder, the binaries, the image archive and the manifests
    with the images they run (hard links: the binaries and the archive are large)."""
    shutil.copytree(CONTEXTS_DIR / "node", staging, dirs_exist_ok=True)
    containerd_config = staging / "files" / "etc" / "containerd" / "config.toml"
    containerd_config.write_text(
        containerd_config.read_text().replace("@PAUSE_IMAGE@", pause_image)
    )
    for folder in ("bin", "cni", "images", "manifests"):
        (staging / folder).mkdir()
    for command in NODE_COMMANDS:
        os.link(kubernetes / command, staging / "bin" / command)
    os.link(crictl, staging / "bin" / "crictl")
    for plugin in cni.iterdir():
        os.link(plugin, staging / "cni" / plugin.name)
    os.link(archive, staging / "images" / archive.name)
    for name in MANIFESTS:
        rendered = charts.render(NODE_MANIFESTS_CHART, manifest_values(), template=name)
        (staging / "manifests" / name).write_text(rendered)


def node_local_image() -> build.LocalImage:
    """The node image's inputs, known without building any part: its folder, the manifests kind
    applies, and the pins that name the binaries and images staged into it."""
    files = {
        f"node/{path.relative_to(CONTEXTS_DIR / 'node').as_posix()}": path
        for path in content.walk(CONTEXTS_DIR / "node")
    }
    files |= {
        f"node-manifests/{path.relative_to(NODE_MANIFESTS_CHART).as_posix()}": path
        for path in content.walk(NODE_MANIFESTS_CHART)
    }
    version = versions.get("kubernetes.version")
    pins = {key: versions.get(key) for key in NODE_PINS}
    return build.LocalImage(
        "node", NODE_IMAGE_REPOSITORY, files, {"KUBERNETES_VERSION": version}, dockerd.base_image(),
        pins=pins,
    )  # fmt: skip


def stage_node_image(staging: Path) -> None:
    """Build every part (or reuse it from the cache), then stage the node's context."""
    version = versions.get("kubernetes.version")
    prerequisites.ensure(["go"])
    kubernetes = kubernetes_bin()
    kubeadm = kubeadm_images(kubernetes / "kubeadm")
    images = component_images(kubernetes, kubeadm)
    crictl = go_installed(
        "crictl", "sigs.k8s.io/cri-tools/cmd/crictl", versions.get("node.cri_tools")
    )
    cni = cni_plugins_bin()
    entries = [image.build() for image in images]
    archive = builds_dir("node-images", version) / f"{image_set_key(entries)}.tar"
    save_images([image.name for image in images], archive)
    stage_node_context(kubernetes, crictl, cni, archive, kubeadm["pause"], staging)


def image_set_key(entries: list[lock.LockedImage]) -> str:
    """A file name that changes whenever a preloaded image (its name or inputs) changes."""
    names = "\n".join(sorted(f"{entry.reference} {entry.content_hash}" for entry in entries))
    return "images-" + hashlib.sha256(names.encode()).hexdigest()[:16]


def ensure() -> str:
    """The node image to create the cluster with: ours when Docker has it (tagged with the content
    hash of its inputs), else kind's own `kindest/node` of the pinned Kubernetes when it can be
    pulled, else ours, built offline."""
    image = node_local_image()
    ours = image.reference(image.content_hash())
    if docker.image_id(ours) is not None:
        say(f"    {ours}: present in Docker")
        return ours
    upstream = f"kindest/node:{versions.get('kubernetes.version')}"
    if succeeds(["docker", "pull", upstream], timeout=PULL_TIMEOUT_S):
        say(f"    {upstream}: pulled (kind's own node image)")
        return upstream
    say(f"    {ours}: not in Docker and {upstream} cannot be pulled; building ours offline")
    entry, _ = build.ensure_local_image(image, stage_node_image, lock_file())
    return entry.reference


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m devenv.node_image", file=sys.stderr)
        return 2
    try:
        print(ensure())
    except (NodeImageError, RunError, gobuild.GoBuildError, dockerd.DockerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
