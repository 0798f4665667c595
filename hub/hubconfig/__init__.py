"""Turn the jupyterhub-k8s chart's values into JupyterHub and KubeSpawner configuration.

The chart's `jupyterhub_config.py` calls `configure_from_environment(get_config())`; everything
else here is importable and unit-tested on its own.
"""

from hubconfig.config import configure, configure_from_environment

__all__ = ["configure", "configure_from_environment"]
