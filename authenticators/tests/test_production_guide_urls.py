"""The URLs docs/production.md tells a campus to enter in Moodle are the ones a running hub
names in its own tool configuration (/hub/lti13/config, /hub/lti11/config)."""

from __future__ import annotations

import json
import re

from inprocess_hub import HubUnderTest

from tools.bootstrap.paths import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "production.md"
PUBLIC_HUB = "https://jupyter.example.edu/hub/"
TABLE_ROW = re.compile(r"^\| ([^|]+?) \| (.+?) \|$", re.MULTILINE)
CODE = re.compile(r"`([^`]+)`")


def moodle_fields(section: str) -> dict[str, list[str]]:
    """Field -> the code spans of its value, in the guide's table of `section` (a ### title)."""
    text = GUIDE.read_text()
    start = text.index(f"### {section}\n")
    end = text.find("\n#", start + 1)
    rows = TABLE_ROW.findall(text[start:end])
    return {field: CODE.findall(value) for field, value in rows}


def routes(urls: list[str]) -> list[str]:
    assert all(url.startswith(PUBLIC_HUB) for url in urls), urls
    return [url.removeprefix(PUBLIC_HUB) for url in urls]


def hub_routes(hub: HubUnderTest, urls: list[str]) -> list[str]:
    return [url.removeprefix(hub.url("")) for url in urls]


async def test_the_lti13_fields_are_the_hubs_tool_configuration(hub: HubUnderTest) -> None:
    config = json.loads((await hub.request("lti13/config")).body)
    fields = moodle_fields("LTI 1.3")

    assert routes(fields["Tool URL"]) == hub_routes(hub, [config["target_link_uri"]])
    assert routes(fields["Initiate login URL"]) == hub_routes(hub, [config["oidc_initiation_url"]])
    assert routes(fields["Redirection URI(s)"]) == hub_routes(hub, config["redirect_uris"])
    custom = [f"{name}={value}" for name, value in config["custom_fields"].items()]
    assert fields["Custom parameters"] == custom


async def test_the_lti11_tool_url_is_the_launch_url_of_the_hubs_configuration(
    hub: HubUnderTest,
) -> None:
    xml = (await hub.request("lti11/config")).body.decode()
    (launch,) = routes(moodle_fields("LTI 1.1")["Tool URL"])

    assert f"<blti:launch_url>{hub.url(launch)}</blti:launch_url>" in xml
