import pytest

from tools.bootstrap.paths import REPO_ROOT
from tools.images import spec

VALID = {
    "lab-base": {"repository": "org/lab-base", "base": "debian"},
    "lab-nlp": {"repository": "org/lab-nlp", "base": "lab-base"},
    "lab-gpu": {"repository": "org/lab-gpu", "base": "lab-base", "default": False},
}


def test_the_repo_spec_loads_and_names_a_folder_with_a_dockerfile_per_image() -> None:
    specs = spec.load()
    assert {"hub", "lab-base", "lab-nlp", "keycloak", "configurable-http-proxy"} <= set(specs)
    for image in specs.values():
        assert image.folder.is_dir(), image.name
        assert (REPO_ROOT / image.dockerfile_path).is_file(), image.name


def test_build_order_puts_bases_first_and_adds_them_when_not_named() -> None:
    specs = spec.parse(VALID)
    assert [s.name for s in spec.build_order(specs, ["lab-nlp"])] == ["lab-base", "lab-nlp"]
    assert [s.name for s in spec.build_order(specs, ["lab-nlp", "lab-base"])] == [
        "lab-base",
        "lab-nlp",
    ]


def test_build_order_puts_a_builder_before_the_images_built_in_it() -> None:
    specs = spec.parse(
        {
            "builder": {"repository": "org/builder", "base": "debian", "final": False},
            **VALID,
            "lab-nlp": {"repository": "org/lab-nlp", "base": "lab-base", "builder": "builder"},
        }
    )
    assert [s.name for s in spec.build_order(specs, ["lab-nlp"])] == [
        "lab-base",
        "builder",
        "lab-nlp",
    ]
    assert not specs["builder"].final
    assert specs["lab-nlp"].final


def test_the_repo_images_that_pip_install_build_in_the_python_builder() -> None:
    specs = spec.load()
    assert not specs["python-builder"].final
    for name in (
        "hub",
        "lab-base",
        "lab-nlp",
        "lab-deeplearning",
        "lab-deeplearning-cu12",
        "mock-moodle",
    ):
        assert specs[name].builder == "python-builder", name


def test_select_leaves_out_non_default_images_unless_asked() -> None:
    specs = spec.parse(VALID)
    assert spec.select(specs, [], everything=False) == ["lab-base", "lab-nlp"]
    assert spec.select(specs, [], everything=True) == ["lab-base", "lab-nlp", "lab-gpu"]
    assert spec.select(specs, ["lab-gpu"], everything=False) == ["lab-gpu"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"a": {"base": "debian"}}, r"\[a\] needs `repository`"),
        ({"a": {"repository": "r", "base": "debian", "colour": 1}}, "unknown fields"),
        ({"a": {"repository": "r", "base": "debian", "inputs": "hub"}}, "`inputs` must be a list"),
        ({"a": {"repository": "r", "base": "debian", "build_args": {"X": 1}}}, "str values"),
        ({"a": {"repository": "r", "base": "ubuntu"}}, "neither 'debian'"),
        ({"a": {"repository": "r", "base": "debian", "inputs": ["../x"]}}, "must be a repo path"),
        ({"a": {"repository": "r", "base": "b"}, "b": {"repository": "r", "base": "a"}}, "cycle"),
        ({"a": {"repository": "r", "base": "debian", "builder": "x"}}, "builder 'x' must be"),
        (
            {
                "a": {"repository": "r", "base": "debian", "builder": "b"},
                **{"b": VALID["lab-base"]},
            },
            "with `final = false`",
        ),
        ({"a": {"repository": "r", "base": "debian", "final": "no"}}, "`final` must be a bool"),
    ],
)
def test_bad_specs_say_what_is_wrong(document: dict, message: str) -> None:
    with pytest.raises(spec.SpecError, match=message):
        spec.parse(document)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(spec.SpecError, match="no image named 'lab-r'; known: lab-base"):
        spec.build_order(spec.parse(VALID), ["lab-r"])
