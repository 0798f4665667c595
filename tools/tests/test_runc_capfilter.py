import json
from pathlib import Path

from tools.bootstrap import runc_capfilter

# CapBnd with every capability up to CAP_CHECKPOINT_RESTORE (40) except CAP_SYS_RESOURCE (24).
STATUS = f"Name:\tx\nCapBnd:\t{((1 << 41) - 1) & ~(1 << 24):016x}\n"


def test_bounding_set_reads_the_mask() -> None:
    allowed = runc_capfilter.bounding_set(STATUS)
    assert "CAP_SYS_ADMIN" in allowed
    assert "CAP_CHECKPOINT_RESTORE" in allowed
    assert "CAP_SYS_RESOURCE" not in allowed
    assert len(allowed) == 40


def test_spec_file_for_create_exec_and_others(tmp_path: Path) -> None:
    assert runc_capfilter.spec_file(["--root", "/r", "create", "--bundle", "/b", "id"]) == Path(
        "/b/config.json"
    )
    assert runc_capfilter.spec_file(["run", "--bundle=/c", "id"]) == Path("/c/config.json")
    assert runc_capfilter.spec_file(["exec", "--process", "/p.json", "id"]) == Path("/p.json")
    assert runc_capfilter.spec_file(["exec", "-t", "id", "sh"]) is None
    assert runc_capfilter.spec_file(["delete", "id"]) is None


def test_filter_spec_drops_only_capabilities_outside_the_bounding_set(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]
    config.write_text(
        json.dumps(
            {
                "ociVersion": "1.0.2",
                "process": {"capabilities": {key: caps for key in ("bounding", "effective")}},
                "root": {"path": "rootfs"},
            }
        )
    )
    runc_capfilter.filter_spec(config, runc_capfilter.bounding_set(STATUS))
    spec = json.loads(config.read_text())
    assert spec["process"]["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert spec["process"]["capabilities"]["effective"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert spec["root"] == {"path": "rootfs"}


def test_filter_spec_handles_an_exec_process_file(tmp_path: Path) -> None:
    process = tmp_path / "process.json"
    process.write_text(
        json.dumps({"args": ["sh"], "capabilities": {"permitted": ["CAP_SYS_RESOURCE"]}})
    )
    runc_capfilter.filter_spec(process, runc_capfilter.bounding_set(STATUS))
    assert json.loads(process.read_text())["capabilities"]["permitted"] == []
