"""Reaching the emulator with requests-based Salesforce clients (``simple-salesforce``).

simple-salesforce always logs in at ``https://login.salesforce.com`` (or ``test.``); a
`LoginRoute` mounted on those origins sends the login to the emulator instead, and the
emulator's ``serverUrl`` then points the client at the emulator for every later call. The
session trusts the emulator's CA and ignores proxy and CA-bundle environment variables.

    session = emulator_session(endpoints.salesforce.instance_url, endpoints.salesforce.ca_file)
    sf = Salesforce(username=..., password=..., security_token=..., session=session)
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

LOGIN_ORIGINS = ("https://login.salesforce.com", "https://test.salesforce.com")


class LoginRoute(HTTPAdapter):
    """Sends requests addressed to a Salesforce login host to ``instance_url`` instead."""

    def __init__(self, instance_url: str) -> None:
        super().__init__()
        target = urlsplit(instance_url)
        self.scheme, self.netloc = target.scheme, target.netloc

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self.scheme, self.netloc, parts.path, parts.query, ""))
        return super().send(request, stream, timeout, verify, cert, proxies)


def emulator_session(instance_url: str, ca_file: str | None) -> requests.Session:
    """A requests session that trusts the emulator's CA and routes logins to it."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file or True
    route = LoginRoute(instance_url)
    for origin in LOGIN_ORIGINS:
        session.mount(origin, route)
    return session
