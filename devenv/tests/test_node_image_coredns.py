"""The CoreDNS of the node image: its own main, importing only the plugins the Corefile uses."""

from __future__ import annotations

import re

from devenv import node_image
from tools import gobuild


def test_coredns_main_imports_the_listed_plugins_and_coremain_only() -> None:
    main_go = node_image.coredns_main()
    imports = re.findall(r'^\t(?:_ )?"([^"]+)"$', main_go, flags=re.MULTILINE)
    plugins = [f"{node_image.COREDNS_MODULE}/plugin/{name}" for name in node_image.COREDNS_PLUGINS]
    assert imports == [*plugins, f"{node_image.COREDNS_MODULE}/coremain"]
    assert "core/plugin" not in main_go, "the package that imports every plugin"
    assert main_go.startswith("package main\n") and "coremain.Run()" in main_go


def test_the_plugins_of_kubeadms_corefile_are_all_there() -> None:
    # kubeadm's Corefile (cmd/kubeadm/app/phases/addons/dns) names these; "prometheus" is the
    # directive of the plugin folder "metrics".
    corefile = {"errors", "health", "ready", "kubernetes", "metrics", "forward", "cache"}
    corefile |= {"loop", "reload", "loadbalance"}
    assert corefile <= set(node_image.COREDNS_PLUGINS)


def test_another_plugin_list_is_another_build_folder() -> None:
    assert gobuild.program_variant("a") != gobuild.program_variant("b")
    assert gobuild.program_variant("a") == gobuild.program_variant("a")
