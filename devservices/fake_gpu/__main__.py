"""`python -m fake_gpu [serve|probe]`: run the fake GPU device plugin, or check that it answers."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from fake_gpu import config, gfd_labels, node_setup, plugin
from fake_gpu.errors import ConfigError
from fake_gpu.kube import KubeError, NodeApi
from fake_gpu.layout import NodeLayout
from fake_gpu.metrics import MetricsServer, kubelet_owners
from fake_gpu.probe import probe

log = logging.getLogger("fake_gpu")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fake-gpu-plugin",
        description="A kubelet device plugin advertising fake NVIDIA GPUs, MIG slices and "
        "time-sliced replicas, configured in NVIDIA's formats.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="register with the kubelet and serve (the default)")
    config.add_arguments(serve)
    check = commands.add_parser("probe", help="exit 0 when the plugin answers on its sockets")
    config.add_plugin_dir_argument(check)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]
    return parser.parse_args(argv)


def node_layout(arguments: argparse.Namespace, api: NodeApi | None) -> NodeLayout:
    """In a cluster the node's labels pick the configs; outside one, the flags do."""
    if api is None:
        return node_setup.load_layout(
            arguments.config_dir,
            arguments.node_name,
            arguments.device_plugin_config,
            arguments.mig_config,
        )
    labels = api.node_labels(arguments.node_name)
    return node_setup.layout_from_labels(arguments.config_dir, arguments.node_name, labels)


def publish_labels(api: NodeApi, layout: NodeLayout) -> None:
    current = api.node_labels(layout.node_name)
    patch = gfd_labels.label_patch(current, gfd_labels.gfd_labels(layout))
    if patch:
        api.patch_node_labels(layout.node_name, patch)
    log.info(
        "node labels: %s", ", ".join(f"{k}={v}" for k, v in sorted(patch.items())) or "current"
    )


def serve(arguments: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    api = NodeApi.in_cluster()
    try:
        layout = node_layout(arguments, api)
        if api is not None:
            publish_labels(api, layout)
    except (ConfigError, KubeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    settings = config.from_arguments(arguments, layout)
    metrics = None
    if arguments.metrics_port:
        metrics = MetricsServer(
            layout, kubelet_owners(settings.pod_resources_socket), arguments.metrics_port
        )
        metrics.start()
    try:
        plugin.run(settings, stop)
    except plugin.PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if metrics is not None:
            metrics.stop()
    return 0


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    if arguments.command == "probe":
        problem = probe(arguments.plugin_dir)
        if problem is not None:
            print(f"unhealthy: {problem}", file=sys.stderr)
            return 1
        return 0
    return serve(arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
