"""CPU time and memory of a kind node's pods, read from the node's cgroups (cgroup v1,
kubelet's systemd driver under /kubelet: the dev cluster's layout). One `docker exec` reads every
pod, so a snapshot of a hundred labs costs one process, not a hundred; metrics-server is not
installed in the dev cluster, and its figures would be 15 s averages anyway."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools import docker

PODS = "kubelet.slice/kubelet-kubepods.slice"
# Guaranteed pods sit in kubepods.slice itself, the others in its besteffort/burstable slices.
READ_ALL = f"""
cd /sys/fs/cgroup
for slice in cpuacct/{PODS}/*pod*.slice cpuacct/{PODS}/*/*pod*.slice; do
  [ -d "$slice" ] || continue
  memory="memory/${{slice#cpuacct/}}"
  usage=$(cat "$memory/memory.usage_in_bytes")
  inactive=$(awk '$1 == "total_inactive_file" {{print $2}}' "$memory/memory.stat")
  echo "$slice $(cat "$slice/cpuacct.usage") $((usage - inactive))"
done
"""
POD_UID = re.compile(r"pod([0-9a-f_]{36})\.slice$")


@dataclass(frozen=True)
class Usage:
    cpu_s: float
    """CPU seconds used since the cgroup was made."""
    working_set_bytes: int
    """Memory in use less inactive page cache (what kubelet's eviction and `kubectl top` count)."""


@dataclass(frozen=True)
class NodeSnapshot:
    pods: dict[str, Usage]
    """By pod UID."""


def snapshot(node: str) -> NodeSnapshot:
    """Each pod's CPU time and working set, now."""
    pods: dict[str, Usage] = {}
    for line in docker.docker("exec", node, "sh", "-c", READ_ALL).splitlines():
        path, cpu_ns, working_set = line.split()
        if match := POD_UID.search(path):
            uid = match.group(1).replace("_", "-")
            pods[uid] = Usage(int(cpu_ns) / 1e9, int(working_set))
    return NodeSnapshot(pods)
