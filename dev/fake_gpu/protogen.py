"""Generate the Python stubs of the kubelet device-plugin API from the vendored api.proto.

The stubs are committed (so the plugin imports without a build step, in the repo and in its image);
`python -m fake_gpu.protogen` rewrites them and a unit test fails when they are out of date.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PROTO = "fake_gpu/deviceplugin/api.proto"
GENERATED = (
    "fake_gpu/deviceplugin/api_pb2.py",
    "fake_gpu/deviceplugin/api_pb2.pyi",
    "fake_gpu/deviceplugin/api_pb2_grpc.py",
)


class ProtocError(RuntimeError):
    """protoc rejected the proto file."""


def generate(output_root: Path) -> list[Path]:
    """Write the stubs under `output_root` (mirroring the package layout); return their paths."""
    # grpcio-tools is a test/dev dependency only; the plugin's image never runs this.
    from grpc_tools import protoc

    well_known_protos = resources.files("grpc_tools") / "_proto"
    status = protoc.main(
        [
            "protoc",
            f"-I{PACKAGE_ROOT}",
            f"-I{well_known_protos}",
            f"--python_out={output_root}",
            f"--pyi_out={output_root}",
            f"--grpc_python_out={output_root}",
            PROTO,
        ]
    )
    if status != 0:
        raise ProtocError(f"protoc failed on {PACKAGE_ROOT / PROTO} (exit status {status})")
    return [output_root / name for name in GENERATED]


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
