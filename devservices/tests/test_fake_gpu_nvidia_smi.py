"""The fake nvidia-smi (POSIX sh) for the devices the plugin hands a container."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import resources

import pytest

from fake_gpu.config import PluginConfig
from fake_gpu.devices import fake_gpus
from fake_gpu.service import container_environment

SCRIPT = resources.files("fake_gpu").joinpath("nvidia-smi.sh")
CONFIG = PluginConfig(node_name="gpu-worker")
GPUS = fake_gpus(CONFIG.node_name, 4)
# /bin/sh is dash on Debian images; also run under any other POSIX shell present here.
SHELLS = [shell for shell in ("sh", "dash", "bash", "busybox") if shutil.which(shell)]
TABLE_WIDTH = 89


def nvidia_smi(
    *arguments: str, gpus: list = GPUS[1:3], shell: str = "sh"
) -> subprocess.CompletedProcess[str]:
    command = [shell, "sh"] if shell == "busybox" else [shell]
    return subprocess.run(
        [*command, str(SCRIPT), *arguments],
        env={"PATH": "/usr/bin:/bin", **container_environment(CONFIG, gpus)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("shell", SHELLS)
def test_list_shows_exactly_the_allocated_devices(shell: str):
    result = nvidia_smi("-L", shell=shell)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"GPU 0: NVIDIA A100-SXM4-40GB (fake) (UUID: {GPUS[1].id})",
        f"GPU 1: NVIDIA A100-SXM4-40GB (fake) (UUID: {GPUS[2].id})",
    ]


@pytest.mark.parametrize("shell", SHELLS)
def test_table_has_nvidia_smis_layout(shell: str):
    result = nvidia_smi(shell=shell)
    assert result.returncode == 0, result.stderr
    date, *lines = result.stdout.splitlines()
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} +", date)
    assert {len(line) for line in lines} == {TABLE_WIDTH}
    assert lines[0] == "+" + "-" * (TABLE_WIDTH - 2) + "+"
    assert "Driver Version:" in lines[1]
    rows = [line for line in lines if "00000000:" in line]
    assert rows == [
        "|   0  NVIDIA A100-SXM4-40GB (fake)   On  | 00000000:11:00.0 Off |                    0 |",
        "|   1  NVIDIA A100-SXM4-40GB (fake)   On  | 00000000:12:00.0 Off |                    0 |",
    ]
    usage = [line for line in lines if "MiB /" in line]
    assert (
        usage
        == [
            "| N/A   32C    P0              43W / 400W |      0MiB / 40960MiB |"
            "      0%      Default |"
        ]
        * 2
    )
    assert "No running processes found" in result.stdout


def test_long_names_are_cut_to_the_column():
    config = PluginConfig(node_name="n", model="NVIDIA H100 80GB HBM3 with a long suffix")
    result = subprocess.run(
        ["sh", str(SCRIPT)],
        env={"PATH": "/usr/bin:/bin", **container_environment(config, GPUS[:1])},
        capture_output=True,
        text=True,
        check=True,
    )
    [row] = [line for line in result.stdout.splitlines() if "00000000:" in line]
    assert row.startswith("|   0  NVIDIA H100 80GB HBM3 wit...   On  |")
    assert len(row) == TABLE_WIDTH


def test_query_gpu_csv():
    result = nvidia_smi(
        "--query-gpu=index,uuid,pci.bus_id,memory.total,utilization.gpu", "--format=csv"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "index, uuid, pci.bus_id, memory.total [MiB], utilization.gpu [%]",
        f"0, {GPUS[1].id}, 00000000:11:00.0, 40960 MiB, 0 %",
        f"1, {GPUS[2].id}, 00000000:12:00.0, 40960 MiB, 0 %",
    ]


def test_query_gpu_csv_without_header_or_units():
    result = nvidia_smi("--query-gpu=name,memory.free", "--format=csv,noheader,nounits")
    assert result.stdout.splitlines() == ["NVIDIA A100-SXM4-40GB (fake), 40960"] * 2


def test_no_allocated_devices_means_none_found():
    result = nvidia_smi(gpus=[])
    assert result.returncode == 6
    assert result.stdout == "No devices were found\n"


@pytest.mark.parametrize(
    "arguments",
    [("--bogus",), ("--query-gpu=index",), ("--query-gpu=temperature", "--format=csv")],
)
def test_bad_arguments_are_refused(arguments: tuple[str, ...]):
    result = nvidia_smi(*arguments)
    assert result.returncode == 2
    assert "Invalid combination of input arguments" in result.stderr
    assert result.stdout == ""
