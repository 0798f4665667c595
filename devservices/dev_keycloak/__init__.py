"""The dev Keycloak: the campus realm (`campus-realm.json`) and a runner for it on this host."""
