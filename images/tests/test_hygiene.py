"""What no final image may carry: compilers, package caches, apt lists; and who it runs as."""

import pytest
from containers import docker_run

from tools.bootstrap import dockerd
from tools.images import spec

# Builders are never run: only final images are checked.
NAMES = [name for name, image in spec.load().items() if image.final]
# Only the device plugin runs as root (see its Dockerfile: the kubelet's socket folder).
ROOT_ALLOWED = {"fake-gpu-plugin"}
CHECK = (
    "for tool in gcc cc g++ make; do command -v $tool && echo compiler:$tool; done;"
    " ls -A /var/lib/apt/lists 2>/dev/null | grep -vx -e lock -e partial | sed s/^/apt:/;"
    " for cache in /root/.cache/pip /home/*/.cache/pip /root/.npm /tmp/requirements.txt; do"
    " test -e $cache && echo cache:$cache; done; echo uid:$(id -u)"
)


def findings(image: str) -> set[str]:
    return set(docker_run(image, "-c", CHECK, entrypoint="sh").split())


@pytest.fixture(scope="module")
def from_base_image() -> set[str]:
    """What the Debian base itself carries (a debootstrap keeps its apt lists); not ours to fix."""
    return findings(dockerd.base_image())


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in NAMES])
def test_no_compilers_caches_or_package_lists(
    name: str, image: str, from_base_image: set[str]
) -> None:
    found = findings(image)
    assert sorted(f for f in found - from_base_image if not f.startswith("uid:")) == []
    if name not in ROOT_ALLOWED:
        assert "uid:0" not in found
