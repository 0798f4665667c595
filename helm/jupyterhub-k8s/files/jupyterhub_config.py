"""The hub's configuration: it all comes from the chart values, through hubconfig."""

import os

from hubconfig import configure_from_environment, wait_for_kubernetes_api

wait_for_kubernetes_api(os.environ)
configure_from_environment(get_config())  # noqa: F821 - get_config is provided by JupyterHub
