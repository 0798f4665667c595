from pathlib import Path

import pytest

from tools.bootstrap.paths import REPO_ROOT
from tools.images import content
from tools.images.spec import IMAGES_DIR, ImageSpec, SpecError


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repo with one image folder and one package it installs."""
    (tmp_path / "images" / "hub").mkdir(parents=True)
    (tmp_path / "images" / "hub" / "Dockerfile").write_text("FROM scratch\n")
    package = tmp_path / "hub" / "hubconfig"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    return tmp_path


HUB = ImageSpec("hub", "org/hub", "debian", inputs=("pyproject.toml", "hub/hubconfig"))


def hash_of(repo: Path, args: dict[str, str] | None = None, base: str = "sha256:1") -> str:
    return content.content_hash(content.context_files(HUB, repo), args or {}, base)


def test_context_holds_the_image_folder_at_its_root_and_inputs_at_their_repo_path(
    repo: Path,
) -> None:
    files = content.context_files(HUB, repo)
    assert sorted(files) == ["Dockerfile", "hub/hubconfig/__init__.py", "pyproject.toml"]


def test_hash_is_stable_and_ignores_caches(repo: Path) -> None:
    first = hash_of(repo)
    (repo / "hub" / "hubconfig" / "__pycache__" / "y.pyc").write_bytes(b"\1")
    assert hash_of(repo) == first
    assert len(content.tag_for(first)) == content.TAG_LENGTH


@pytest.mark.parametrize(
    "change",
    [
        lambda repo: (repo / "hub" / "hubconfig" / "__init__.py").write_text("x = 1\n"),
        lambda repo: (repo / "images" / "hub" / "requirements.txt").write_text("a==1\n"),
        lambda repo: (repo / "pyproject.toml").chmod(0o755),
        lambda repo: (repo / "hub" / "hubconfig" / "new.py").write_text(""),
    ],
    ids=["package-file", "image-folder", "executable-bit", "new-file"],
)
def test_any_input_change_changes_the_hash(repo: Path, change) -> None:
    before = hash_of(repo)
    change(repo)
    assert hash_of(repo) != before


def test_pins_and_base_image_change_the_hash(repo: Path) -> None:
    assert hash_of(repo, {"V": "1"}) != hash_of(repo, {"V": "2"})
    assert hash_of(repo, base="sha256:1") != hash_of(repo, base="sha256:2")


def test_files_outside_the_inputs_do_not_change_the_hash(repo: Path) -> None:
    before = hash_of(repo)
    (repo / "hub" / "tests").mkdir()
    (repo / "hub" / "tests" / "test_x.py").write_text("")
    (repo / "README.md").write_text("docs")
    assert hash_of(repo) == before


def test_a_missing_input_is_named(repo: Path) -> None:
    spec = ImageSpec("hub", "org/hub", "debian", inputs=("authenticators/multilogin",))
    with pytest.raises(SpecError, match="'authenticators/multilogin' does not exist"):
        content.context_files(spec, repo)


def test_write_context_copies_files_with_their_modes(repo: Path, tmp_path: Path) -> None:
    (repo / "pyproject.toml").chmod(0o755)
    target = tmp_path / "context"
    content.write_context(content.context_files(HUB, repo), target)
    assert (target / "hub" / "hubconfig" / "__init__.py").is_file()
    assert (target / "pyproject.toml").stat().st_mode & 0o111


def test_image_folders_live_in_the_repo() -> None:
    assert IMAGES_DIR == REPO_ROOT / "images"


def test_a_shared_dockerfile_is_the_context_root_dockerfile_and_hashed(repo: Path) -> None:
    shared = repo / "images" / "lab-extension" / "Dockerfile"
    shared.parent.mkdir()
    shared.write_text("FROM scratch\n")
    (repo / "images" / "lab-nlp").mkdir()
    (repo / "images" / "lab-nlp" / "requirements.txt").write_text("a==1\n")
    lab = ImageSpec(
        "lab-nlp", "org/lab-nlp", "debian", dockerfile="images/lab-extension/Dockerfile"
    )
    files = content.context_files(lab, repo)
    assert files == {
        "Dockerfile": shared,
        "requirements.txt": repo / "images/lab-nlp/requirements.txt",
    }
    before = content.content_hash(files, {}, "sha256:1")
    shared.write_text("FROM scratch\nLABEL x=1\n")
    assert content.content_hash(content.context_files(lab, repo), {}, "sha256:1") != before

    (repo / "images" / "lab-nlp" / "Dockerfile").write_text("FROM scratch\n")
    with pytest.raises(SpecError, match="keep one"):
        content.context_files(lab, repo)


def test_a_missing_dockerfile_is_named(repo: Path) -> None:
    (repo / "images" / "hub" / "Dockerfile").unlink()
    with pytest.raises(SpecError, match="no Dockerfile"):
        content.context_files(HUB, repo)
