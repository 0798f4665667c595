"""The dev services' fixtures (the real Keycloak, the mock Moodle) for the tests of this folder.

Imported here rather than loaded for every test tree, so that trees without the dev services'
dependencies (the images' smoke tests) never import them.
"""

from service_fixtures import keycloak, mock_moodle_factory

__all__ = ["keycloak", "mock_moodle_factory"]
