"""Generate the Python stubs of the kubelet device-plugin API from the vendored api.proto.

The stubs are committed (so the plugin imports without a build step, in the repo and in its image);
`python -m fake_gpu.protogen` rewrites them and a unit test fails when they are out of date.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# The kubelet's APIs the plugin speaks: device plugins, and pod resources (to name pods in logs).
PROTOS = ("fake_gpu/deviceplugin/api.proto", "fake_gpu/podresources/api.proto")
STUB_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


class ProtocError(RuntimeError):
    """protoc rejected the proto file."""


def generate(output_root: Path) -> list[Path]:
    """Write the stubs under `output_root` (mirroring the package layout); return their paths."""
    # grpcio-tools is a test/dev dependency only; the plugin's image never runs this.
    from grpc_tools import protoc

    well_known_protos = resources.files("grpc_tools") / "_proto"
    written = []
    for proto in PROTOS:
        status = protoc.main(
            [
                "protoc",
                f"-I{PACKAGE_ROOT}",
                f"-I{well_known_protos}",
                f"--python_out={output_root}",
                f"--pyi_out={output_root}",
                f"--grpc_python_out={output_root}",
                proto,
            ]
        )
        if status != 0:
            raise ProtocError(f"protoc failed on {PACKAGE_ROOT / proto} (exit status {status})")
        stem = proto.removesuffix(".proto")
        written += [output_root / f"{stem}{suffix}" for suffix in STUB_SUFFIXES]
    return written


def main() -> int:
    try:
        written = generate(PACKAGE_ROOT)
    except ProtocError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(PACKAGE_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
