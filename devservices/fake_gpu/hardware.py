"""The fake hardware: which GPU models exist, what MIG profiles each offers, and which fake GPUs
each node has. This is the only fake-only setting; everything else is NVIDIA's own config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from fake_gpu.errors import ConfigError

MAX_GPUS_PER_NODE = 16


@dataclass(frozen=True)
class MigProfile:
    """A MIG profile as `<compute slices>g.<memory>gb`, with the memory nvidia-smi reports."""

    name: str
    compute_slices: int
    memory_slices: int
    memory_mib: int


@dataclass(frozen=True)
class GpuModel:
    name: str
    memory_mib: int
    # Empty for a GPU without MIG (a T4); else the profiles and the slices a GPU has of each kind.
    mig_profiles: Mapping[str, MigProfile]
    compute_slices: int = 7
    memory_slices: int = 8

    @property
    def mig_capable(self) -> bool:
        return bool(self.mig_profiles)


def _profiles(*entries: tuple[str, int, int, int]) -> Mapping[str, MigProfile]:
    return MappingProxyType({name: MigProfile(name, g, m, mib) for name, g, m, mib in entries})


# Figures as NVIDIA's MIG user guide lists them (memory as nvidia-smi reports a slice).
MODELS: Mapping[str, GpuModel] = MappingProxyType(
    {
        model.name: model
        for model in (
            GpuModel(
                "NVIDIA A100-SXM4-80GB",
                81920,
                _profiles(
                    ("1g.10gb", 1, 1, 9728),
                    ("1g.20gb", 1, 2, 19968),
                    ("2g.20gb", 2, 2, 19968),
                    ("3g.40gb", 3, 4, 40192),
                    ("4g.40gb", 4, 4, 40192),
                    ("7g.80gb", 7, 8, 80384),
                ),
            ),
            GpuModel(
                "NVIDIA A100-SXM4-40GB",
                40960,
                _profiles(
                    ("1g.5gb", 1, 1, 4864),
                    ("2g.10gb", 2, 2, 9984),
                    ("3g.20gb", 3, 4, 20096),
                    ("4g.20gb", 4, 4, 20096),
                    ("7g.40gb", 7, 8, 40192),
                ),
            ),
            GpuModel("Tesla T4", 15360, MappingProxyType({})),
        )
    }
)


@dataclass(frozen=True)
class NodeHardware:
    model: GpuModel
    count: int


def parse_hardware(document: Any, node_name: str, source: str) -> NodeHardware:
    """This node's entry of the hardware file: `{<node>: {model: <name>, count: <n>}}`."""
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: must map node names to {{model, count}}")
    entry = document.get(node_name)
    if entry is None:
        raise ConfigError(f"{source}: no entry for node {node_name!r} (has {sorted(document)})")
    where = f"{source}: {node_name}"
    if not isinstance(entry, dict) or set(entry) - {"model", "count"}:
        raise ConfigError(f"{where}: must be {{model, count}}, got {entry!r}")
    model = entry.get("model")
    if model not in MODELS:
        raise ConfigError(f"{where}.model: unknown model {model!r} (known: {', '.join(MODELS)})")
    count = entry.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_GPUS_PER_NODE:
        raise ConfigError(f"{where}.count: must be 1 to {MAX_GPUS_PER_NODE}, got {count!r}")
    return NodeHardware(MODELS[model], count)
