from tools.images import pins
from tools.images.spec import ImageSpec


def test_parse_pins_reads_names_and_versions_of_a_hashed_file() -> None:
    text = "# header\nJinja2==3.1.6 \\\n    --hash=sha256:aa\nzope.interface==7.0 \\\n"
    assert pins.parse_pins(text) == {"jinja2": "3.1.6", "zope-interface": "7.0"}


def test_render_sorts_by_normalized_name_and_hashes_every_line() -> None:
    spec = ImageSpec("lab-nlp", "org/lab-nlp", "lab-base")
    text = pins.render(
        spec,
        [
            {"name": "spacy", "version": "3.8.1", "sha256": "bb"},
            {"name": "Jinja2", "version": "3.1.6", "sha256": "aa"},
        ],
        "lab-base",
    )
    lines = text.splitlines()
    assert "pin lab-nlp" in lines[0]
    assert "Adds to lab-base's pins" in lines[1]
    assert lines[2:] == [
        "Jinja2==3.1.6 \\",
        "    --hash=sha256:aa",
        "spacy==3.8.1 \\",
        "    --hash=sha256:bb",
    ]
    assert pins.parse_pins(text) == {"jinja2": "3.1.6", "spacy": "3.8.1"}


def test_committed_child_pins_never_repeat_their_base_pins() -> None:
    base = pins.parse_pins((ImageSpec("lab-base", "", "debian").folder / pins.PINNED).read_text())
    for child in ("lab-nlp", "lab-deeplearning", "lab-deeplearning-cu12"):
        folder = ImageSpec(child, "", "lab-base").folder
        assert not set(pins.parse_pins((folder / pins.PINNED).read_text())) & set(base), child
