from pathlib import Path

import pytest

from tools.bootstrap import versions


@pytest.fixture
def pins(tmp_path: Path) -> Path:
    path = tmp_path / "versions.toml"
    path.write_text('[kubernetes]\nversion = "v1.2.3"\n[tools]\nkind = "v0.1.0"\n')
    return path


def test_get_reads_a_dotted_key(pins: Path) -> None:
    assert versions.get("kubernetes.version", pins) == "v1.2.3"
    assert versions.get("tools.kind", pins) == "v0.1.0"


def test_missing_key_names_the_key_and_the_file(pins: Path) -> None:
    with pytest.raises(
        versions.VersionsError, match=r"'tools.helm' is not pinned in versions.toml"
    ):
        versions.get("tools.helm", pins)


def test_a_table_is_not_a_version(pins: Path) -> None:
    with pytest.raises(versions.VersionsError, match="is a table"):
        versions.get("tools", pins)


def test_cli_prints_the_value_or_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert versions.main(["debian.suite"]) == 0
    assert capsys.readouterr().out.strip() == versions.get("debian.suite")
    assert versions.main(["no.such"]) == 1
    assert "not pinned" in capsys.readouterr().err
    assert versions.main([]) == 2


def test_repo_pins_every_section_the_tooling_reads() -> None:
    for key in (
        "debian.suite",
        "kubernetes.version",
        "tools.kind",
        "tools.helm",
        "tools.distribution",
        "tools.go",
    ):
        assert versions.get(key)
