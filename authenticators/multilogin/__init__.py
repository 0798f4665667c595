"""One JupyterHub authenticator for Keycloak (OIDC), LTI 1.1 and LTI 1.3 logins."""

from .authenticator import MultiLoginAuthenticator
from .keycloak import KeycloakLogin
from .lti11 import LTI11Login
from .lti13 import LTI13Login

__all__ = ["KeycloakLogin", "LTI11Login", "LTI13Login", "MultiLoginAuthenticator"]
