"""Turn the jupyterhub-k8s chart's values into JupyterHub and KubeSpawner configuration.

The chart's `jupyterhub_config.py` calls `wait_for_kubernetes_api(os.environ)` and
`configure_from_environment(get_config())`; everything else here is importable and unit-tested
on its own.
"""

from hubconfig.config import configure, configure_from_environment
from hubconfig.kube_api import wait_for_kubernetes_api

__all__ = ["configure", "configure_from_environment", "wait_for_kubernetes_api"]
