"""What every lab's pod gets from the z2jh-style `singleuser` keys, as KubeSpawner traits.

Each key keeps z2jh's meaning; profiles (hubconfig.profiles) set some of the same traits again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubconfig.quantities import memory_bytes

# singleuser key -> KubeSpawner trait, for the keys z2jh passes through unchanged.
PASSTHROUGH: Mapping[str, str] = {
    "lifecycleHooks": "lifecycle_hooks",
    "initContainers": "init_containers",
    "extraContainers": "extra_containers",
    "nodeSelector": "node_selector",
    "extraTolerations": "tolerations",
    "extraLabels": "extra_labels",
    "extraAnnotations": "extra_annotations",
}


def environment(extra_env: Mapping[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """KubeSpawner's `environment` from z2jh's `extraEnv`: a map or a list of EnvVars.

    KubeSpawner takes `NAME: value` and `NAME: EnvVar`, where an EnvVar's own `name` wins over
    the key, as in z2jh's "explicit notation".
    """
    if isinstance(extra_env, list):
        return {entry["name"]: dict(entry) for entry in extra_env}
    return {
        name: dict(value) if isinstance(value, Mapping) else value
        for name, value in extra_env.items()
    }


def spawner_traits(singleuser: Mapping[str, Any]) -> dict[str, Any]:
    """Traits for every lab: z2jh's pass-through keys, resources, the command and the user."""
    traits: dict[str, Any] = {
        trait: singleuser[key] for key, trait in PASSTHROUGH.items() if key in singleuser
    }
    traits["environment"] = environment(singleuser.get("extraEnv", {}))
    cpu = singleuser.get("cpu", {})
    memory = singleuser.get("memory", {})
    traits.update(
        cpu_limit=cpu.get("limit"),
        cpu_guarantee=cpu.get("guarantee"),
        mem_limit=_bytes_or_none(memory.get("limit")),
        mem_guarantee=_bytes_or_none(memory.get("guarantee")),
    )
    extra_resource = singleuser.get("extraResource", {})
    traits["extra_resource_limits"] = dict(extra_resource.get("limits", {}))
    traits["extra_resource_guarantees"] = dict(extra_resource.get("guarantees", {}))
    # z2jh's `cmd: null` runs the image's own command; Helm drops a null, so absent means that.
    traits["cmd"] = singleuser.get("cmd")
    traits["uid"] = singleuser["uid"]
    # Init and extra containers run as the lab's user too, unless they name another non-root
    # user (the schema refuses root and privileged ones).
    traits["pod_security_context"] = {"runAsUser": singleuser["uid"], "runAsNonRoot": True}
    return traits


def _bytes_or_none(value: int | str | None) -> int | None:
    return None if value is None else memory_bytes(value)
