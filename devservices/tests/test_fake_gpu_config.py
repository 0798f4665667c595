"""Device ids and the plugin's command line."""

from __future__ import annotations

import re

import pytest

from fake_gpu import config
from fake_gpu.__main__ import main, parse_arguments
from fake_gpu.devices import device_id, fake_gpus


def test_device_ids_are_stable_per_node_and_index():
    assert device_id("gpu-worker", 0) == device_id("gpu-worker", 0)
    assert device_id("gpu-worker", 0) != device_id("gpu-worker", 1)
    assert device_id("gpu-worker", 0) != device_id("gpu-worker-2", 0)
    assert re.fullmatch(r"GPU-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", device_id("n", 3))


def test_fake_gpus_are_numbered_with_distinct_bus_ids():
    gpus = fake_gpus("gpu-worker", 4)
    assert [gpu.index for gpu in gpus] == [0, 1, 2, 3]
    assert len({gpu.bus_id for gpu in gpus}) == 4


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NODE_NAME", "kind-worker")
    monkeypatch.setenv("FAKE_GPU_COUNT", "7")
    monkeypatch.setenv("FAKE_GPU_MEMORY_MIB", "81920")
    settings = config.from_arguments(parse_arguments([]))
    assert settings.node_name == "kind-worker"
    assert settings.device_count == 7
    assert settings.memory_mib == 81920


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_GPU_COUNT", "7")
    settings = config.from_arguments(parse_arguments(["--devices", "2", "--node-name", "n1"]))
    assert (settings.device_count, settings.node_name) == (2, "n1")


@pytest.mark.parametrize("count", ["0", "65", "four"])
def test_a_bad_device_count_says_what_is_allowed(
    count: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("FAKE_GPU_COUNT", count)
    with pytest.raises(SystemExit) as exited:
        parse_arguments(["serve"])
    assert exited.value.code == 2
    assert "a whole number from 1 to 64" in capsys.readouterr().err


def test_probe_without_a_plugin_fails(tmp_path, capsys: pytest.CaptureFixture[str]):
    assert main(["probe", "--plugin-dir", str(tmp_path)]) == 1
    assert "no plugin socket" in capsys.readouterr().err
