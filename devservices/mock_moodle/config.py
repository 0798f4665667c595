"""The mock Moodle's configuration: a YAML file validated by `config_schema.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_FILE = Path(__file__).with_name("config_schema.json")
EXAMPLE_CONFIG = Path(__file__).with_name("example-config.yaml")


class ConfigError(ValueError):
    """The configuration file is missing, not YAML, or does not match the schema."""


@dataclass(frozen=True)
class User:
    username: str
    user_id: str
    given_name: str
    family_name: str
    email: str
    roles: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


@dataclass(frozen=True)
class Course:
    context_id: str
    title: str
    label: str
    resource_link_id: str
    resource_link_title: str
    custom: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    lti11_launch_url: str
    lti13_login_url: str
    lti13_redirect_uris: tuple[str, ...]
    lti13_target_link_uri: str


@dataclass(frozen=True)
class Config:
    platform_name: str
    platform_guid: str
    platform_url: str | None
    moodle_version: str
    tool: Tool
    consumer_key: str
    shared_secret: str
    issuer: str | None
    client_id: str
    deployment_id: str
    private_key_file: Path | None
    users: dict[str, User]
    courses: dict[str, Course]
    cohorts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each cohort's usernames (all in `users` as well), by the cohort's prefix."""

    def for_port(self, port: int, host: str = "127.0.0.1", scheme: str = "http") -> Config:
        """Fill in the URL-derived defaults once the port the mock listens on is known."""
        url = self.platform_url or f"{scheme}://{host}:{port}"
        return replace(self, platform_url=url, issuer=self.issuer or url)

    @property
    def url(self) -> str:
        if self.platform_url is None:
            raise RuntimeError("the platform URL is set by Config.for_port() before serving")
        return self.platform_url


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def validate(data: Any) -> None:
    """Raise ConfigError naming the first problem and where it is."""
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema()).iter_errors(data)
    )
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise ConfigError(f"{where}: {error.message}")


def cohort_users(cohort: dict[str, Any]) -> list[User]:
    """prefix + 1..count, zero-padded to the digits of count (learner-001 ... learner-100)."""
    width = len(str(cohort["count"]))
    return [
        User(
            username=f"{cohort['prefix']}{number:0{width}d}",
            user_id=str(cohort["first_user_id"] + number - 1),
            given_name="Learner",
            family_name=f"{number:0{width}d}",
            email="",
            roles=tuple(cohort["roles"]),
        )
        for number in range(1, cohort["count"] + 1)
    ]


def from_dict(data: dict[str, Any]) -> Config:
    """A validated Config from the YAML's data."""
    validate(data)
    platform = data.get("platform", {})
    tool = data["tool"]
    lti13 = data["lti13"]
    listed = [User(**{**entry, "roles": tuple(entry["roles"])}) for entry in data["users"]]
    cohorts = {entry["prefix"]: cohort_users(entry) for entry in data.get("cohorts", [])}
    everyone = listed + [user for members in cohorts.values() for user in members]
    users = {user.username: user for user in everyone}
    courses = {
        entry["context_id"]: Course(
            context_id=entry["context_id"],
            title=entry["title"],
            label=entry["label"],
            resource_link_id=entry.get("resource_link_id", f"{entry['context_id']}-jupyterhub"),
            resource_link_title=entry.get("resource_link_title", "JupyterHub"),
            custom=dict(entry.get("custom", {})),
        )
        for entry in data["courses"]
    }
    if len(users) != len(everyone):
        raise ConfigError("users: each username must be unique (listed users and cohorts)")
    if len(cohorts) != len(data.get("cohorts", [])):
        raise ConfigError("cohorts: each prefix must be unique")
    if len(courses) != len(data["courses"]):
        raise ConfigError("courses: each context_id must be unique")
    redirect_uris = tuple(tool["lti13_redirect_uris"])
    return Config(
        platform_name=platform.get("name", "Mock Moodle"),
        platform_guid=platform.get("guid", "mock-moodle.localhost"),
        platform_url=platform.get("url", "").rstrip("/") or None,
        moodle_version=platform.get("moodle_version", "2024100700"),
        tool=Tool(
            lti11_launch_url=tool["lti11_launch_url"],
            lti13_login_url=tool["lti13_login_url"],
            lti13_redirect_uris=redirect_uris,
            lti13_target_link_uri=tool.get("lti13_target_link_uri", redirect_uris[0]),
        ),
        consumer_key=data["lti11"]["consumer_key"],
        shared_secret=data["lti11"]["shared_secret"],
        issuer=lti13.get("issuer"),
        client_id=lti13["client_id"],
        deployment_id=lti13["deployment_id"],
        private_key_file=Path(lti13["private_key_file"]) if "private_key_file" in lti13 else None,
        users=users,
        courses=courses,
        cohorts={
            prefix: tuple(user.username for user in members) for prefix, members in cohorts.items()
        },
    )


def load(path: Path) -> Config:
    """Read and validate a configuration file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    try:
        return from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def for_hub(hub_url: str, **sections: Any) -> dict[str, Any]:
    """The example configuration with the tool URLs of the hub at `hub_url`; `sections` replace
    top-level sections (e.g. `users=[...]`)."""
    base = hub_url.rstrip("/") + "/hub"
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["tool"] = {
        "lti11_launch_url": f"{base}/lti/launch",
        "lti13_login_url": f"{base}/lti13/oauth_login",
        "lti13_redirect_uris": [f"{base}/lti13/oauth_callback"],
    }
    data.update(sections)
    return data
