"""`python -m mock_moodle --config FILE --port N [--tls-cert FILE --tls-key FILE]`: serve the
mock Moodle on localhost, over HTTPS when given a certificate chain and its key."""

from __future__ import annotations

import argparse
import asyncio
import logging
import ssl
import sys
from pathlib import Path

from mock_moodle import config
from mock_moodle.server import DEFAULT_PORT, HOST, ServerTls, serve


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
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", type=Path, help="the PEM private key of --tls-cert")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    tls = ServerTls(args.tls_cert, args.tls_key) if args.tls_cert else None
    try:
        server_context = tls.server_context() if tls else None
    except (OSError, ssl.SSLError) as error:
        print(f"error: cannot use the TLS certificate or key: {error}", file=sys.stderr)
        return 2
    try:
        loaded = config.load(args.config)
    except config.ConfigError as error:
        print(f"error: invalid configuration: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scheme = "https" if server_context else "http"
    print(f"mock Moodle: {scheme}://{args.host}:{args.port}/ (config: {args.config})", flush=True)
    try:
        asyncio.run(serve(loaded, args.port, args.host, tls))
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
