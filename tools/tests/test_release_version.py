import pytest

from tools.release import __main__ as release_command
from tools.release import version
from tools.release.release import RegistryPathError, staging_for


@pytest.mark.parametrize("text", ["1.2.0", "0.1.0", "10.20.30", "1.2.0-rc.1", "1.0.0-alpha+001"])
def test_a_semantic_version_is_accepted(text: str) -> None:
    assert version.parse(text) == text


@pytest.mark.parametrize(
    "text",
    ["", "1.2", "1.2.0.0", "01.2.0", "1.2.0-", "1.2.0 ", "1.2.0;rm -rf", "latest", "../1.2.0",
     "1.2.0\n", "9" * 200 + ".0.0"],
)  # fmt: skip
def test_anything_else_is_refused_with_what_a_version_looks_like(text: str) -> None:
    with pytest.raises(version.VersionError, match=r"semantic version|at most"):
        version.parse(text)


def test_a_tag_name_is_refused_with_the_version_to_write() -> None:
    with pytest.raises(version.VersionError, match=r"write 1\.2\.0, without the v"):
        version.parse("v1.2.0")


def test_precedence_follows_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]  # fmt: skip
    assert sorted(reversed(ordered), key=version.sort_key) == ordered


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["1.2"], "not a semantic version"), (["1.2.0", "--registry", "https://reg.example"],
     "is not a registry"), (["1.2.0", "--registry", "reg.example/../x"], "is not a registry")],
)  # fmt: skip
def test_the_command_refuses_junk_with_a_message_and_no_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert release_command.main(argv) == 1
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("published", "staging"),
    [
        (None, "localhost:5001"),
        ("registry.campus.test", "localhost:5001"),
        ("ghcr.io/campus/jupyter", "localhost:5001/campus/jupyter"),
    ],
)
def test_a_tag_release_stages_in_the_local_registry_under_the_published_path(
    published: str | None, staging: str
) -> None:
    assert staging_for(published) == staging


def test_a_published_registry_is_checked_like_the_registry() -> None:
    with pytest.raises(RegistryPathError):
        staging_for("https://ghcr.io/campus")
