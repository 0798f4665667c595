from tools.images import spec
from tools.release import images

DOCUMENT = {
    "python-builder": {"repository": "p/builder", "base": "debian", "final": False},
    "hub": {"repository": "p/hub", "base": "debian", "builder": "python-builder"},
    "configurable-http-proxy": {"repository": "quay.io/jupyterhub/chp", "base": "debian"},
    "lab-base": {"repository": "p/lab-base", "base": "debian"},
    "lab-nlp": {"repository": "p/lab-nlp", "base": "lab-base"},
    "lab-gpu": {"repository": "p/lab-gpu", "base": "lab-base", "default": False},
    "keycloak": {"repository": "quay.io/keycloak/keycloak", "base": "debian"},
}


def test_a_release_holds_the_images_the_chart_runs_and_no_dev_service() -> None:
    specs = spec.parse(DOCUMENT)
    default = ["hub", "configurable-http-proxy", "lab-base", "lab-nlp"]
    assert images.chart_images(specs, everything=False) == default
    assert images.chart_images(specs, everything=True) == [*default, "lab-gpu"]
    assert images.lab_keys([*default, "lab-gpu"], specs) == {"lab-nlp", "lab-gpu"}


def test_the_large_gpu_labs_are_released_only_with_all_images() -> None:
    specs = spec.load()
    for name in ("lab-deeplearning", "lab-deeplearning-cu12"):
        assert name not in images.chart_images(specs, everything=False)
        assert name in images.chart_images(specs, everything=True)
