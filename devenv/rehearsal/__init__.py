"""The production rehearsal (`nox -s rehearsal`): a release installed from the registry by
version, the way production installs it, and the end-to-end stories run against it.

It runs in the dev cluster (whose nodes pull only from the local registry), in its own namespace,
with production-shaped values: HTTPS on the names of three sites with a CA made for the run, the
hub database in PostgreSQL, secrets only through `hub.existingSecret`, users' servers on their own
subdomains. It first installs the previous release (previous-release.toml) and the upgrade story
(e2e/test_upgrade.py) upgrades it to the release under test. devenv/README.md, "The production
rehearsal", says how to run it and what each step does.
"""
