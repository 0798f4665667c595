"""The committed device-plugin stubs are what protoc makes of the vendored api.proto."""

from __future__ import annotations

from pathlib import Path

from fake_gpu import protogen


def test_generated_stubs_are_current(tmp_path: Path):
    for fresh in protogen.generate(tmp_path):
        committed = protogen.PACKAGE_ROOT / fresh.relative_to(tmp_path)
        assert committed.read_bytes() == fresh.read_bytes(), (
            f"{committed} is out of date: run `PYTHONPATH=devservices python -m fake_gpu.protogen`"
        )
