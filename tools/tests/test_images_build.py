from pathlib import Path

import pytest

from tools.images import build
from tools.images.spec import ImageSpec

SPEC = ImageSpec("keycloak", "jupyterhub-k8s/keycloak", "debian", alias_tag="keycloak.version")


def plan(content_hash: str = "ab" * 32) -> build.Plan:
    return build.Plan(SPEC, {}, {"V": "1"}, "debian:bookworm-slim", "sha256:1", content_hash)


def test_reference_is_the_short_hash_and_the_alias_the_pinned_version() -> None:
    job = plan()
    assert job.reference == "jupyterhub-k8s/keycloak:abababababab"
    assert job.alias is not None
    assert job.alias.startswith("jupyterhub-k8s/keycloak:")
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


def local_image(tmp_path: Path, **changes: object) -> build.LocalImage:
    dockerfile = tmp_path / "Dockerfile"
    if not dockerfile.exists():
        dockerfile.write_text("FROM scratch\n")
    fields = {
        "name": "node",
        "repository": "org/node",
        "files": {"Dockerfile": dockerfile},
        "build_args": {"VERSION": "1"},
        "base_reference": "debian:bookworm-slim",
        "pins": {"kubernetes.version": "v1.34.4"},
    }
    return build.LocalImage(**{**fields, **changes})


def test_a_local_image_hashes_its_files_args_and_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build.docker, "image_id", lambda reference: "sha256:base")
    first = local_image(tmp_path).content_hash()
    assert local_image(tmp_path).content_hash() == first
    assert local_image(tmp_path, pins={"kubernetes.version": "v1.35.0"}).content_hash() != first
    assert local_image(tmp_path, build_args={"VERSION": "2"}).content_hash() != first
    (tmp_path / "Dockerfile").write_text("FROM scratch\nENV A=1\n")
    assert local_image(tmp_path).content_hash() != first
    assert local_image(tmp_path).reference(first) == f"org/node:{first[:12]}"
    assert local_image(tmp_path, tag="3.10").reference(first) == "org/node:3.10"


def test_a_local_image_is_built_only_when_its_label_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(build, "logs_dir", lambda: tmp_path)
    labels: dict[str, str] = {}
    commands: list[list[str]] = []
    staged: list[Path] = []
    monkeypatch.setattr(build.docker, "image_id", lambda reference: "sha256:id")
    monkeypatch.setattr(build.docker, "image_label", lambda reference, label: labels.get(reference))

    def docker_build(command: list[str], log: Path) -> str:
        commands.append(command)
        label = command[command.index("--label") + 1]
        labels[command[command.index("--tag") + 1]] = label.split("=", 1)[1]
        return ""

    monkeypatch.setattr(build, "run", docker_build)
    image = local_image(tmp_path)
    lock_path = tmp_path / "lock.json"
    entry, built = build.ensure_local_image(image, staged.append, lock_path)
    assert built and len(staged) == 1 and len(commands) == 1
    assert f"{build.CONTENT_HASH_LABEL}={image.content_hash()}" in commands[0]
    assert entry.content_hash == image.content_hash()
    assert build.lock.read(lock_path)["node"] == entry

    again, built_again = build.ensure_local_image(image, staged.append, lock_path)
    assert not built_again and len(staged) == 1 and len(commands) == 1
    assert again.reference == entry.reference
