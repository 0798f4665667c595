"""`python -m mock_moodle --config FILE --port N`: serve the mock Moodle on localhost."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from mock_moodle import config
from mock_moodle.server import DEFAULT_PORT, HOST, serve


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_moodle", description=__doc__)
    parser.add_argument(
        "--config",
        type=Path,
        default=config.EXAMPLE_CONFIG,
        help="YAML file (schema: mock_moodle/config_schema.json); default: the example config",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=HOST)
    args = parser.parse_args(argv)
    try:
        loaded = config.load(args.config)
    except config.ConfigError as error:
        print(f"error: invalid configuration: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"mock Moodle: http://{args.host}:{args.port}/ (config: {args.config})", flush=True)
    try:
        asyncio.run(serve(loaded, args.port, args.host))
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
