"""What each image is made of: `images/images.toml`, checked against a small schema."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.bootstrap.paths import REPO_ROOT

IMAGES_DIR = REPO_ROOT / "images"
SPEC_FILE = IMAGES_DIR / "images.toml"
DEBIAN_BASE = "debian"

# field name -> (type of its value, type of list items or dict values, required)
SCHEMA: dict[str, tuple[type, type | None, bool]] = {
    "repository": (str, None, True),
    "base": (str, None, True),
    "inputs": (list, str, False),
    "build_args": (dict, str, False),
    "fetch": (list, str, False),
    "alias_tag": (str, None, False),
    "default": (bool, None, False),
    "builder": (str, None, False),
    "final": (bool, None, False),
    "dockerfile": (str, None, False),
}


class SpecError(ValueError):
    """images.toml says something the build cannot follow."""


@dataclass(frozen=True)
class ImageSpec:
    """One image: its name (the folder under images/) and what goes into it."""

    name: str
    repository: str
    base: str
    inputs: tuple[str, ...] = ()
    build_args: dict[str, str] = field(default_factory=dict)
    fetch: tuple[str, ...] = ()
    alias_tag: str | None = None
    default: bool = True
    builder: str | None = None
    final: bool = True
    dockerfile: str | None = None

    @property
    def folder(self) -> Path:
        return IMAGES_DIR / self.name

    @property
    def dockerfile_path(self) -> str:
        """The repo path of the Dockerfile: its folder's, or one that several images share."""
        return self.dockerfile or f"images/{self.name}/Dockerfile"


def check_entry(name: str, entry: Any, where: str) -> None:
    """Raise SpecError naming the image and field for anything outside SCHEMA."""
    if not isinstance(entry, dict):
        raise SpecError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(entry) - set(SCHEMA))
    if unknown:
        raise SpecError(f"{where}: [{name}] has unknown fields {unknown}; known: {sorted(SCHEMA)}")
    for key, (kind, item_kind, required) in SCHEMA.items():
        if key not in entry:
            if required:
                raise SpecError(f"{where}: [{name}] needs `{key}`")
            continue
        value = entry[key]
        if not isinstance(value, kind):
            raise SpecError(f"{where}: [{name}] `{key}` must be a {kind.__name__}")
        items = value.values() if isinstance(value, dict) else value if kind is list else ()
        if item_kind and not all(isinstance(item, item_kind) for item in items):
            raise SpecError(f"{where}: [{name}] `{key}` must hold {item_kind.__name__} values")


def parse(document: dict[str, Any], where: str = SPEC_FILE.name) -> dict[str, ImageSpec]:
    """Image specs by name, in file order, after checking fields and references."""
    specs: dict[str, ImageSpec] = {}
    for name, entry in document.items():
        check_entry(name, entry, where)
        specs[name] = ImageSpec(
            name=name,
            repository=entry["repository"],
            base=entry["base"],
            inputs=tuple(entry.get("inputs", ())),
            build_args=dict(entry.get("build_args", {})),
            fetch=tuple(entry.get("fetch", ())),
            alias_tag=entry.get("alias_tag"),
            default=entry.get("default", True),
            builder=entry.get("builder"),
            final=entry.get("final", True),
            dockerfile=entry.get("dockerfile"),
        )
    for spec in specs.values():
        if spec.base != DEBIAN_BASE and spec.base not in specs:
            raise SpecError(
                f"{where}: [{spec.name}] base {spec.base!r} is neither {DEBIAN_BASE!r} "
                "nor an image of this file"
            )
        if spec.builder is not None and (spec.builder not in specs or specs[spec.builder].final):
            raise SpecError(
                f"{where}: [{spec.name}] builder {spec.builder!r} must be an image of this file "
                "with `final = false`"
            )
        for path in (*spec.inputs, *filter(None, [spec.dockerfile])):
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise SpecError(f"{where}: [{spec.name}] input {path!r} must be a repo path")
    build_order(specs, list(specs))  # rejects cycles early
    return specs


def load(path: Path = SPEC_FILE) -> dict[str, ImageSpec]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path.name} is not valid TOML: {error}") from None
    return parse(document, path.name)


def build_order(specs: dict[str, ImageSpec], names: list[str]) -> list[ImageSpec]:
    """The named images and the images they build on (bases and builders) first."""
    ordered: list[ImageSpec] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name not in specs:
            raise SpecError(f"no image named {name!r}; known: {', '.join(specs)}")
        if any(spec.name == name for spec in ordered):
            return
        if name in visiting:
            raise SpecError(f"images build on each other in a cycle through {name!r}")
        visiting.add(name)
        base, builder = specs[name].base, specs[name].builder
        if base != DEBIAN_BASE:
            visit(base)
        if builder is not None:
            visit(builder)
        visiting.discard(name)
        ordered.append(specs[name])

    for name in names:
        visit(name)
    return ordered


def select(specs: dict[str, ImageSpec], names: list[str], *, everything: bool) -> list[str]:
    """The names asked for; with none, every default image (or all with `everything`)."""
    if names:
        return names
    return [spec.name for spec in specs.values() if everything or spec.default]
