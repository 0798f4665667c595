"""Memory sizes from the chart values, as the byte counts KubeSpawner's traits hold.

KubeSpawner's memory traits (JupyterHub's ByteSpecification) take K, M, G and T, each a power
of 1024, and nothing else. Kubernetes also writes the binary suffixes Ki, Mi, Gi and Ti, which
mean the same powers of 1024, so both spellings are converted here. K, M, G and T keep
KubeSpawner's meaning (and z2jh's, which passes them on unchanged): `1G` is 1024**3 bytes here,
where Kubernetes would read 10**9.
"""

from __future__ import annotations

import re

_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
# The schema's `memory` definition has the same pattern, so values reaching this module match it.
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:([KMGT])i?)?")


def memory_bytes(value: int | str) -> int:
    """Bytes of a memory size such as 512Mi, 4G or 1073741824; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a memory size")
    if isinstance(value, int):
        return value
    match = _MEMORY.fullmatch(value)
    if not match:
        raise ValueError(f"{value!r} is not a memory size such as 512Mi, 4Gi or 4G")
    number, unit = match.groups()
    return int(float(number) * _UNITS.get(unit, 1))
