"""The fake nvidia-smi (POSIX sh) for the devices the plugin hands a container."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import resources

import pytest
from fake_gpu_nodes import A100_NODE, T4_NODE, chart_layout

from fake_gpu.hardware import GpuModel
from fake_gpu.layout import Device, Resource
from fake_gpu.service import container_environment, visible_devices

SCRIPT = resources.files("fake_gpu").joinpath("nvidia-smi.sh")
A100 = chart_layout(A100_NODE)
WHOLE = A100.resource("nvidia.com/gpu")
GPUS = [device.gpu for device in WHOLE.devices]
MIG = A100.resource("nvidia.com/mig-1g.10gb")
T4 = chart_layout(T4_NODE)
[SHARED] = T4.resources
# /bin/sh is dash on Debian images; also run under any other POSIX shell present here.
SHELLS = [shell for shell in ("sh", "dash", "bash", "busybox") if shutil.which(shell)]
TABLE_WIDTH = 89


def nvidia_smi(
    *arguments: str,
    devices: tuple[Device, ...] = WHOLE.devices,
    resource: Resource = WHOLE,
    model: GpuModel = A100.model,
    shell: str = "sh",
) -> subprocess.CompletedProcess[str]:
    """The script with what Allocate hands a container that got `devices` of `resource`."""
    command = [shell, "sh"] if shell == "busybox" else [shell]
    environment = container_environment(model, resource, visible_devices(resource, list(devices)))
    return subprocess.run(
        [*command, str(SCRIPT), *arguments],
        env={"PATH": "/usr/bin:/bin", **environment},
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
        f"GPU 0: NVIDIA A100-SXM4-80GB (UUID: {GPUS[0].id})",
        f"GPU 1: NVIDIA A100-SXM4-80GB (UUID: {GPUS[1].id})",
    ]


@pytest.mark.parametrize("shell", SHELLS)
def test_list_shows_a_mig_slice_under_its_gpu(shell: str):
    part = MIG.devices[4]
    result = nvidia_smi("-L", devices=[part], resource=MIG, shell=shell)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"GPU 0: NVIDIA A100-SXM4-80GB (UUID: {part.gpu.id})",
        f"  MIG 1g.10gb     Device  0: (UUID: {part.mig.id})",
    ]


def test_list_numbers_two_slices_of_one_gpu():
    parts = list(MIG.devices[:2])
    result = nvidia_smi("-L", devices=parts, resource=MIG)
    assert result.stdout.splitlines()[1:] == [
        f"  MIG 1g.10gb     Device  {n}: (UUID: {part.mig.id})" for n, part in enumerate(parts)
    ]


@pytest.mark.parametrize("shell", SHELLS)
def test_list_says_a_time_sliced_gpu_is_shared(shell: str):
    result = nvidia_smi(
        "-L", devices=[SHARED.devices[2]], resource=SHARED, model=T4.model, shell=shell
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"GPU 0: Tesla T4 (UUID: {T4.gpus[0].id})",
        f"  Shared: time-slicing, {SHARED.replicas} replicas of this GPU "
        "(other containers may use it too)",
    ]


def test_table_shows_mig_and_sharing():
    mig_table = nvidia_smi(devices=[MIG.devices[0]], resource=MIG).stdout
    assert {len(line) for line in mig_table.splitlines()[1:]} == {TABLE_WIDTH}
    assert "Enabled |" in mig_table
    assert f"MIG 1g.10gb  {MIG.devices[0].mig.id}" in mig_table
    assert f"0MiB / {MIG.devices[0].mig.profile.memory_mib}MiB" in mig_table
    shared_table = nvidia_smi(devices=[SHARED.devices[0]], resource=SHARED, model=T4.model).stdout
    assert {len(line) for line in shared_table.splitlines()[1:]} == {TABLE_WIDTH}
    assert f"Shared: time-slicing, {SHARED.replicas} replicas" in shared_table


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
        "|   0  NVIDIA A100-SXM4-80GB          On  | 00000000:10:00.0 Off |                    0 |",
        "|   1  NVIDIA A100-SXM4-80GB          On  | 00000000:11:00.0 Off |                    0 |",
    ]
    usage = [line for line in lines if "MiB /" in line]
    assert (
        usage
        == [
            "| N/A   32C    P0              43W / 400W |      0MiB / 81920MiB |"
            "      0%      Default |"
        ]
        * 2
    )
    assert "No running processes found" in result.stdout


def test_long_names_are_cut_to_the_column():
    model = GpuModel("NVIDIA H100 80GB HBM3 with a long suffix", 81920, {})
    result = subprocess.run(
        ["sh", str(SCRIPT)],
        env={"PATH": "/usr/bin:/bin", **container_environment(model, WHOLE, [WHOLE.devices[0]])},
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
        f"0, {GPUS[0].id}, 00000000:10:00.0, 81920 MiB, 0 %",
        f"1, {GPUS[1].id}, 00000000:11:00.0, 81920 MiB, 0 %",
    ]


def test_query_gpu_csv_without_header_or_units():
    result = nvidia_smi("--query-gpu=name,memory.free", "--format=csv,noheader,nounits")
    assert result.stdout.splitlines() == ["NVIDIA A100-SXM4-80GB, 81920"] * 2


def test_no_allocated_devices_means_none_found():
    result = nvidia_smi(devices=())
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
