"""docs/gpus.md is true: its values blocks install on top of the production example, the keys
it names exist, its image table is what each lab's pinned wheels bring, its worked example
asks for the resources and labels its NVIDIA configs make, and the guides link it.

The image table's CUDA build and oldest GPU architecture are also checked against the built
images (images/tests/test_labs.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_production_guide import (
    PRODUCTION_VALUES,
    REPO_ROOT,
    VALUES_KEY,
    VALUES_MARK,
    YAML_BLOCK,
    assert_installs_on_production,
    schema_node,
)

from fake_gpu import hardware, nvidia_config
from tools.images import pins, spec

GUIDE = REPO_ROOT / "docs" / "gpus.md"
MIG_PARTED_MARK = "# mig-parted config\n"
DEVICE_PLUGIN_MARK = "# device plugin config\n"
# NVIDIA's minimum driver per CUDA major version (minor version compatibility:
# https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html).
MINIMUM_DRIVER = {"12": "R525", "13": "R580"}
CUDA_RUNTIME_WHEELS = ("nvidia-cuda-runtime", "nvidia-cuda-runtime-cu12")
IMAGE_ROW = re.compile(r"^\| `(lab-[\w-]+)` \|(.*)\|$", re.MULTILINE)
PYPI_ROW = re.compile(r"^\| ([\d.,\s]+(?:to [\d.]+)?) \| (\d+\.\d+) \(", re.MULTILINE)


def guide_text() -> str:
    return GUIDE.read_text()


def blocks(mark: str) -> list[str]:
    return [block for block in YAML_BLOCK.findall(guide_text()) if block.startswith(mark)]


def values_blocks() -> list[str]:
    return blocks(VALUES_MARK)


def worked_example() -> dict[str, Any]:
    """The last values block: the whole campus of section 9."""
    return yaml.safe_load(values_blocks()[-1])


def lab_images() -> list[str]:
    specs = spec.load()
    return [name for name, image in specs.items() if "lab-base" in (name, image.base)]


def pinned(name: str) -> dict[str, str]:
    image = spec.load()[name]
    return pins.parse_pins((image.folder / pins.PINNED).read_text())


def cuda_of(image_pins: dict[str, str]) -> str:
    """major.minor of the CUDA runtime wheel an image pins, or "none"."""
    runtimes = [image_pins[wheel] for wheel in CUDA_RUNTIME_WHEELS if wheel in image_pins]
    if not runtimes:
        return "none"
    (runtime,) = runtimes
    return ".".join(runtime.split(".")[:2])


def image_table() -> dict[str, list[str]]:
    return {
        name: [cell.strip() for cell in cells.split("|")]
        for name, cells in IMAGE_ROW.findall(guide_text())
    }


def test_the_guide_has_values_blocks_and_nvidia_configs() -> None:
    assert len(values_blocks()) >= 2
    assert len(blocks(MIG_PARTED_MARK)) == 1
    assert len(blocks(DEVICE_PLUGIN_MARK)) == 1
    marks = (VALUES_MARK, MIG_PARTED_MARK, DEVICE_PLUGIN_MARK)
    unmarked = [b for b in YAML_BLOCK.findall(guide_text()) if not b.startswith(marks)]
    assert not unmarked, "every YAML block says what it is, so that a test reads it"


@pytest.mark.parametrize("index", range(len(values_blocks())))
def test_each_values_block_installs_on_top_of_the_production_example(
    index: int, tmp_path: Path
) -> None:
    assert_installs_on_production(values_blocks()[index], tmp_path)


@pytest.mark.parametrize("key", sorted(set(VALUES_KEY.findall(guide_text()))))
def test_every_values_key_the_guide_names_exists(key: str) -> None:
    assert schema_node(key.split(".")) is not None, f"{key} is not a key of the chart's values"


def test_the_image_table_lists_every_lab_image() -> None:
    assert sorted(image_table()) == sorted(lab_images())


@pytest.mark.parametrize("name", lab_images())
def test_the_image_table_row_is_what_the_pinned_wheels_bring(name: str) -> None:
    torch, cuda, driver, oldest = image_table()[name]
    image_pins = pinned(name)
    assert torch == image_pins.get("torch", "none")
    assert cuda == cuda_of(image_pins)
    if cuda == "none":
        assert (driver, oldest) == ("none (CPU)", "none")
        assert not [wheel for wheel in image_pins if wheel.startswith("nvidia-")]
    else:
        assert driver == MINIMUM_DRIVER[cuda.split(".")[0]]
        assert re.search(r"\(sm_\d+\b", oldest), "the oldest architecture names its sm_ number"


def test_the_cuda_12_image_pins_the_newest_cuda_12_pytorch_the_pypi_table_lists() -> None:
    cuda_12 = []
    for versions, cuda in PYPI_ROW.findall(guide_text()):
        if cuda.startswith("12."):
            cuda_12 += re.findall(r"\d+\.\d+\.\d+", versions)
    assert cuda_12, "the guide's PyPI table lists CUDA 12 builds"
    newest = max(cuda_12, key=lambda version: tuple(map(int, version.split("."))))
    image_pins = pinned("lab-deeplearning-cu12")
    assert image_pins["torch"] == newest
    assert cuda_of(image_pins).startswith("12.")


def test_the_worked_example_asks_for_what_the_nvidia_configs_make() -> None:
    (mig_parted,) = [yaml.safe_load(block) for block in blocks(MIG_PARTED_MARK)]
    (device_plugin,) = [yaml.safe_load(block) for block in blocks(DEVICE_PLUGIN_MARK)]
    assert mig_parted["version"] == device_plugin["version"] == "v1"
    mig_resources = {
        f"nvidia.com/mig-{profile}"
        for layout in mig_parted["mig-configs"].values()
        for part in layout
        for profile in part.get("mig-devices", {})
    }
    time_slicing = device_plugin["sharing"]["timeSlicing"]
    shared = {entry["name"] for entry in time_slicing["resources"]}
    singleuser = worked_example()["singleuser"]
    for key, kind in singleuser["gpu"]["types"].items():
        product = kind.get("nodeSelector", {}).get("nvidia.com/gpu.product", "")
        if kind["resourceName"].startswith("nvidia.com/mig-"):
            assert kind["resourceName"] in mig_resources, key
        elif product.endswith("-SHARED"):
            # GFD appends -SHARED only while the shared resource keeps its name.
            assert time_slicing["renameByDefault"] is False
            assert kind["resourceName"] in shared, key
        else:
            assert kind["resourceName"] == "nvidia.com/gpu", key
            assert product, f"{key} shares nvidia.com/gpu with other kinds: it needs a product"
    for profile in singleuser["profileList"]:
        if any(key.endswith("-shared") for key in profile.get("gpuTypes", [])):
            # failRequestsGreaterThanOne refuses two replicas of a shared GPU.
            assert time_slicing["failRequestsGreaterThanOne"] and profile["gpus"] == 1


def test_the_worked_examples_gpu_images_are_lab_images() -> None:
    singleuser = worked_example()["singleuser"]
    production = yaml.safe_load(PRODUCTION_VALUES.read_text())["singleuser"]
    images = {**production["images"], **singleuser["images"]}
    for profile in singleuser["profileList"]:
        if profile.get("gpus"):
            assert profile["image"] in images and profile["image"] in lab_images()


@pytest.mark.parametrize("markdown", ["README.md", "docs/production.md"])
def test_the_guides_link_the_gpu_guide(markdown: str) -> None:
    text = (REPO_ROOT / markdown).read_text()
    assert re.search(r"\]\((?:docs/)?gpus\.md(?:#[\w-]+)?\)", text), markdown


def test_the_guides_nvidia_configs_are_what_the_dev_clusters_plugin_reads() -> None:
    """The guide's NVIDIA configs pass the parser the dev cluster's fake device plugin runs on
    its own NVIDIA-format configs (devenv/kind/fake-gpu-plugin/files/), for the guide's A100s."""
    (mig_parted,) = [yaml.safe_load(block) for block in blocks(MIG_PARTED_MARK)]
    (device_plugin,) = [yaml.safe_load(block) for block in blocks(DEVICE_PLUGIN_MARK)]
    plugin = nvidia_config.parse_device_plugin_config(device_plugin, "docs/gpus.md")
    assert plugin.time_slicing, "the guide's device plugin config time-slices nothing"
    a100 = hardware.MODELS["NVIDIA A100-SXM4-80GB"]
    for name in mig_parted["mig-configs"]:
        layouts = nvidia_config.parse_mig_config(mig_parted, "docs/gpus.md", name, a100, 4)
        assert len(layouts) == 4
    sliced = nvidia_config.parse_mig_config(mig_parted, "docs/gpus.md", "campus-a100", a100, 4)
    assert [layout.slices for layout in sliced] == [(), (), (), ("1g.10gb",) * 7]
