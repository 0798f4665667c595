"""An OCI runtime wrapper that drops capabilities this host cannot grant, then runs runc.

Docker 20.10 asks for every capability it knows on `--privileged` (fixed upstream in moby#42933);
where the host's bounding set lacks one, runc fails with "unable to apply caps". For `create` and
`run` (the bundle's config.json) and `exec` (the --process file) this removes from each capability
list what is not in our own bounding set, then execs the real runc with unchanged arguments.
Installed by `tools.bootstrap.dockerd.install_capfilter_runtime`; standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

# Linux capability numbers, from include/uapi/linux/capability.h.
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]
CAPABILITY_LISTS = ("bounding", "effective", "inheritable", "permitted", "ambient")
RUNC_CANDIDATES = ("/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc")


def bounding_set(status: str) -> set[str]:
    """Capability names in the `CapBnd` line of a /proc/<pid>/status text."""
    mask = next(
        int(line.split()[1], 16) for line in status.splitlines() if line.startswith("CapBnd")
    )
    return {f"CAP_{name}" for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1}


def option_value(argv: list[str], *names: str) -> str | None:
    """The value of `--name VALUE`, `--name=VALUE` or `-n VALUE` in a runc command line."""
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def spec_file(argv: list[str]) -> Path | None:
    """The JSON file whose capabilities runc is about to apply, if this call applies any."""
    if "create" in argv or "run" in argv:
        bundle = option_value(argv, "--bundle", "-b") or "."
        return Path(bundle) / "config.json"
    if "exec" in argv:
        process = option_value(argv, "--process", "-p")
        return Path(process) if process else None
    return None


def filter_capabilities(capabilities: dict[str, list[str]], allowed: set[str]) -> None:
    for key in CAPABILITY_LISTS:
        if key in capabilities:
            capabilities[key] = [cap for cap in capabilities[key] if cap in allowed]


def filter_spec(path: Path, allowed: set[str]) -> None:
    spec = json.loads(path.read_text())
    process = spec.get("process", spec)  # a bundle's config.json, or an exec process.json
    if "capabilities" in process:
        filter_capabilities(process["capabilities"], allowed)
        path.write_text(json.dumps(spec))


def real_runc() -> str:
    own = Path(sys.argv[0]).resolve()
    for candidate in (*RUNC_CANDIDATES, shutil.which("runc")):
        if candidate and Path(candidate).is_file() and Path(candidate).resolve() != own:
            return candidate
    sys.exit("runc-capfilter: no runc binary found in " + ", ".join(RUNC_CANDIDATES))


def main() -> None:
    argv = sys.argv[1:]
    path = spec_file(argv)
    if path is not None and path.is_file():
        filter_spec(path, bounding_set(Path("/proc/self/status").read_text()))
    runc = real_runc()
    os.execv(runc, [runc, *argv])  # noqa: S606 - replaces this process with the real runc


if __name__ == "__main__":
    main()
