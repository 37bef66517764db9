"""Open-redirect probes against the Dismiss views: ``next`` and the Referer never leave the site.

A Dismiss form posts ``next``; anyone can build a page whose form posts to the site with a
``next`` of their choosing (the CSRF check stops the write, not a signed-in victim's own
posts), so every redirect the views answer with must stay on this site. The probes are the
classic bypasses of redirect checks: other hosts in every spelling browsers accept, scripts,
backslashes, control characters, user-info tricks.
"""

from __future__ import annotations

from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.test import Client

from user_messages import api

# The rule is Django's and the views'; the database only stores the acknowledge.
pytestmark = pytest.mark.engine_independent

#: ``next`` values that point elsewhere, or would run script: each must be refused.
LEAVING = [
    "https://elsewhere.example",
    "http://elsewhere.example/path",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "\\\\\\evil.example",
    "https:evil.example",
    "http:/evil.example",
    "http:///evil.example",
    "http:\\\\evil.example",
    "/\t/evil.example",
    "\r\n//evil.example",
    "\x00//evil.example",
    "\u2028//evil.example",
    "http://testserver@evil.example/",
    "http://testserver:80@evil.example/",
    "//testserver@evil.example",
    "http://evil.example\\@testserver/",
    "http://evil.example%2F@testserver/",
    "http://evil.example#@testserver",
    "https://testserver.evil.example/",
    "http://evil\u3002example/",
    "https://\u24d4\u24e5\u24d8\u24db.example/",
    "http://[::1]/",
    "http://0x7f.1/",
    "ftp://evil.example/",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
]

#: Values Django lets through as paths of this site: odd, but they must stay on it.
ODD_BUT_LOCAL = [
    "\uff0f\uff0fevil.example",  # fullwidth solidi: a relative path, not a host
    "%2F%2Fevil.example",
    "/%09/evil.example",
    "/ /evil.example",
    "@evil.example",
    "..//evil.example",
    "/ok\r\nSet-Cookie: stolen=1",
]

PAGE = "http://testserver/messages/1/acknowledge/"


@pytest.fixture
def alice(user) -> Client:
    """Alice's browser: a signed-in form post."""
    client = Client(headers={"Accept": "text/html"})
    client.force_login(user)
    return client


def _location(response) -> str:
    assert response.status_code == 302, response.content
    return response["Location"]


@pytest.mark.parametrize("probe", LEAVING)
@pytest.mark.parametrize("path", ["/messages/1/acknowledge/", "/messages/acknowledge-all/"])
def test_a_next_that_leaves_the_site_is_refused(alice, user, path, probe):
    message = api.info(user, "Sticky", deliver_once=False)
    path = path.replace("/1/", f"/{message.pk}/")

    from_post = alice.post(path, {"next": probe})
    from_query = alice.post(f"{path}?{urlencode({'next': probe})}")
    as_referer = alice.post(path, headers={"Referer": probe})

    assert _location(from_post) == "/"
    assert _location(from_query) == "/"
    assert _location(as_referer) == "/"


@pytest.mark.parametrize("probe", LEAVING)
def test_a_next_that_leaves_the_site_falls_back_to_a_same_site_referer(alice, probe):
    response = alice.post(
        "/messages/acknowledge-all/", {"next": probe}, headers={"Referer": "/from/"}
    )

    # A relative Referer is what no browser sends, but it is this site's: allowed.
    assert _location(response) == "/from/"


@pytest.mark.parametrize("probe", ODD_BUT_LOCAL)
def test_odd_local_paths_stay_on_the_site_and_inject_no_header(alice, probe):
    response = alice.post("/messages/acknowledge-all/", {"next": probe})

    location = _location(response)
    assert urlsplit(urljoin(PAGE, location)).netloc == "testserver"
    assert not any(c in location for c in "\r\n\t \x00\\")  # written as %-escapes
    assert "stolen" not in response.cookies


def test_a_forged_host_header_gets_400_not_a_redirect_to_it(alice, settings):
    response = alice.post(
        "/messages/acknowledge-all/",
        {"next": "http://evil.example/"},
        headers={"Host": "evil.example"},
    )

    assert response.status_code == 400


def test_an_anonymous_post_goes_to_login_with_a_safe_next_only(user):
    client = Client(headers={"Accept": "text/html"})

    response = client.post("/messages/acknowledge-all/", {"next": "//evil.example/"})

    assert _location(response) == "/accounts/login/?next=/"
