"""The hub's configuration: it all comes from the chart values, through hubconfig."""

from hubconfig import configure_from_environment

configure_from_environment(get_config())  # noqa: F821 - get_config is provided by JupyterHub
