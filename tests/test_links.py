"""user_messages.links.safe_link: the one rule for rendering meta["url"] as a link."""

from __future__ import annotations

import pytest

from user_messages.links import safe_link


@pytest.mark.parametrize(
    "value", ["/", "/inbox/?page=2#top", "http://example.com", "HTTPS://example.com/a?b=c"]
)
def test_a_path_on_this_site_or_an_http_url_is_a_link(value):
    assert safe_link(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        42,
        "//evil.example/a",
        "///evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "http:evil.example",
        "https://",
        "inbox/",
        "/a b",
        "/a\x7f",
    ],
)
def test_anything_else_is_no_link(value):
    assert safe_link(value) == ""
