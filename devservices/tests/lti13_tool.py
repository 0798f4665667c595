"""What an LTI 1.3 tool sends the mock Moodle, for the tests that play the tool."""

from __future__ import annotations

DROP = "<drop>"


def auth_request(
    login: dict[str, str],
    redirect_uri: str,
    state: str = "state-from-the-tool",
    nonce: str = "nonce-from-the-tool",
    **changes: str,
) -> dict[str, str]:
    """The OIDC authentication request a tool sends after the login initiation `login`.

    `changes` replace fields; a field changed to DROP is left out.
    """
    request = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": login["client_id"],
        "redirect_uri": redirect_uri,
        "login_hint": login["login_hint"],
        "lti_message_hint": login["lti_message_hint"],
        "state": state,
        "nonce": nonce,
    }
    request.update(changes)
    return {key: value for key, value in request.items() if value != DROP}
