"""What no final image may carry: compilers, package caches, apt lists; and who it runs as."""

import pytest
from containers import docker_run

from devenv.images import spec

NAMES = list(spec.load())
# Only the device plugin runs as root (see its Dockerfile: the kubelet's socket folder).
ROOT_ALLOWED = {"fake-gpu-plugin"}
CHECK = (
    "for tool in gcc cc g++ make; do command -v $tool && echo compiler:$tool; done;"
    " ls -A /var/lib/apt/lists 2>/dev/null | grep -vx -e lock -e partial | sed s/^/apt:/;"
    " for cache in /root/.cache/pip /home/*/.cache/pip /root/.npm /tmp/requirements.txt; do"
    " test -e $cache && echo cache:$cache; done; echo uid:$(id -u)"
)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.image(n)) for n in NAMES])
def test_no_compilers_caches_or_package_lists(name: str, image: str) -> None:
    lines = docker_run(image, "-c", CHECK, entrypoint="sh").split()
    assert [line for line in lines if not line.startswith("uid:")] == []
    if name not in ROOT_ALLOWED:
        assert "uid:0" not in lines
