"""`python -m dev_keycloak {fetch,start,stop,status,measure} [--port N]`."""

import sys

from dev_keycloak.server import main

sys.exit(main(sys.argv[1:]))
