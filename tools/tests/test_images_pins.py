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


def test_named_requirements_are_the_names_before_bounds_extras_and_comments() -> None:
    source = "# a comment\njupyterlab>=4.4,<5\nJSONSchema[format]<4.25  # why\n-r other.txt\n\n"
    assert pins.named_requirements(source) == {"jupyterlab", "jsonschema"}


def test_a_repin_keeps_the_current_pins_of_packages_the_source_does_not_name() -> None:
    current = "jsonschema==4.26.0 \\\n    --hash=sha256:aa\nfqdn==1.6.0 \\\n    --hash=sha256:bb\n"
    assert pins.kept_pins(current, "jsonschema<4.25\n") == {"fqdn": "1.6.0"}


def test_pin_keeps_current_pins_and_resolves_anew_when_they_do_not_fit(
    tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / pins.SOURCE).write_text("jsonschema<4.25\n")
    (folder / pins.PINNED).write_text("jsonschema==4.26.0 \\\n    --hash=sha256:aa\nfqdn==1.6.0\n")
    spec = ImageSpec("lab", "org/lab", "debian")
    monkeypatch.setattr(ImageSpec, "folder", property(lambda self: folder))
    seen: list[dict[str, str]] = []

    def resolve(source, constraints):
        seen.append(dict(constraints))
        if "fqdn" in constraints:
            raise pins.PinError("conflict")
        return [{"name": "jsonschema", "version": "4.24.1", "sha256": "cc"}]

    monkeypatch.setattr(pins, "resolve", resolve)
    pins.pin(spec, {"lab": spec})
    assert seen == [{"fqdn": "1.6.0"}, {}]
    assert pins.parse_pins((folder / pins.PINNED).read_text()) == {"jsonschema": "4.24.1"}
    (folder / pins.PINNED).write_text("fqdn==1.6.0\n")
    pins.pin(spec, {"lab": spec}, upgrade=True)
    assert seen[-1] == {}, "an upgrade keeps no current pin"
