from pathlib import Path

import pytest

from tools.images import build
from tools.images.spec import ImageSpec

SPEC = ImageSpec("keycloak", "quay.io/keycloak/keycloak", "debian", alias_tag="keycloak.version")


def plan(content_hash: str = "ab" * 32) -> build.Plan:
    return build.Plan(SPEC, {}, {"V": "1"}, "debian:bookworm-slim", "sha256:1", content_hash)


def test_reference_is_the_short_hash_and_the_alias_the_pinned_version() -> None:
    job = plan()
    assert job.reference == "quay.io/keycloak/keycloak:abababababab"
    assert job.alias is not None
    assert job.alias.startswith("quay.io/keycloak/keycloak:")
    assert job.alias != job.reference


def test_build_command_passes_pins_base_and_label(tmp_path: Path) -> None:
    command = build.build_command(plan(), tmp_path, low_priority=True)
    assert command[:5] == ["docker", "build", "--force-rm", "--tag", plan().reference]
    assert "V=1" in command
    assert "BASE_IMAGE=debian:bookworm-slim" in command
    assert f"io.github.jupyterhub-k8s.content-hash={'ab' * 32}" in command
    assert command[command.index("--cpu-shares") + 1] == str(build.LOW_PRIORITY_CPU_SHARES)
    assert command[-1] == str(tmp_path)
    assert "--cpu-shares" not in build.build_command(plan(), tmp_path, low_priority=False)


def test_extra_ca_certs_joins_the_local_crt_files(tmp_path: Path) -> None:
    assert build.extra_ca_certs(tmp_path / "absent") == ""
    (tmp_path / "b.crt").write_text("B\n")
    (tmp_path / "a.crt").write_text("A\n")
    (tmp_path / "ignored.pem").write_text("X\n")
    assert build.extra_ca_certs(tmp_path) == "A\nB\n"


def test_from_scratch_turns_off_the_layer_cache(tmp_path: Path) -> None:
    assert "--no-cache" in build.build_command(
        plan(), tmp_path, low_priority=False, from_scratch=True
    )
    assert "--no-cache" not in build.build_command(plan(), tmp_path, low_priority=False)


def test_a_builder_is_passed_and_hashed_like_a_build_arg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build.docker, "image_id", lambda reference: "sha256:base")
    monkeypatch.setattr(build.content, "context_files", lambda spec: {})
    lab = ImageSpec("lab", "org/lab", "debian", builder="python-builder")
    job = build.plan(lab, "debian:bookworm-slim", "org/python-builder:111111111111")
    assert "BUILDER_IMAGE=org/python-builder:111111111111" in build.build_command(
        job, tmp_path, low_priority=False
    )
    rebuilt_builder = build.plan(lab, "debian:bookworm-slim", "org/python-builder:222222222222")
    assert rebuilt_builder.tag != job.tag
