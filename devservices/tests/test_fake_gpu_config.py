"""Device ids and the plugin's command line."""

from __future__ import annotations

import re

import pytest

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
    monkeypatch.setenv("FAKE_GPU_CONFIG_DIR", "/configs")
    monkeypatch.setenv("FAKE_GPU_DEVICE_PLUGIN_CONFIG", "t4-time-sliced")
    arguments = parse_arguments([])
    assert arguments.node_name == "kind-worker"
    assert str(arguments.config_dir) == "/configs"
    assert arguments.device_plugin_config == "t4-time-sliced"
    assert arguments.mig_config is None


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FAKE_GPU_MIG_CONFIG", "all-disabled")
    arguments = parse_arguments(["--mig-config", "custom", "--node-name", "n1"])
    assert (arguments.mig_config, arguments.node_name) == ("custom", "n1")


def test_a_bad_config_stops_the_plugin_with_one_line(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    (tmp_path / "hardware").mkdir()
    (tmp_path / "hardware" / "hardware.yaml").write_text("n: {model: Tesla T4, count: 1}\n")
    (tmp_path / "device-plugin").mkdir()
    (tmp_path / "device-plugin" / "bad").write_text("version: v1\nflags: {migStrategy: auto}\n")
    arguments = ["serve", "--node-name", "n", "--config-dir", str(tmp_path)]
    assert main([*arguments, "--device-plugin-config", "bad", "--metrics-port", "0"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "flags.migStrategy: must be one of none, single" in line


def test_probe_without_a_plugin_fails(tmp_path, capsys: pytest.CaptureFixture[str]):
    assert main(["probe", "--plugin-dir", str(tmp_path)]) == 1
    assert "no plugin socket fake-*.sock" in capsys.readouterr().err
