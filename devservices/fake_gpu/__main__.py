"""`python -m fake_gpu [serve|probe]`: run the fake GPU device plugin, or check that it answers."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from fake_gpu import config, plugin
from fake_gpu.probe import probe


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fake-gpu-plugin",
        description="A kubelet device plugin advertising fake NVIDIA GPUs as nvidia.com/gpu.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="register with the kubelet and serve (the default)")
    config.add_arguments(serve)
    check = commands.add_parser("probe", help="exit 0 when the plugin answers on its socket")
    config.add_plugin_dir_argument(check)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["serve", *argv]
    return parser.parse_args(argv)


def serve(arguments: argparse.Namespace) -> int:
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logging.getLogger("fake_gpu").info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        plugin.run(config.from_arguments(arguments), stop)
    except plugin.PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    if arguments.command == "probe":
        problem = probe(arguments.plugin_dir / config.SOCKET_NAME)
        if problem is not None:
            print(f"unhealthy: {problem}", file=sys.stderr)
            return 1
        return 0
    return serve(arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
