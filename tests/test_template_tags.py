"""The docs' template snippet (docs/howto/templates.md), rendered as a host's template would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Template

from user_messages.models import Message

PAGE = Path(__file__).resolve().parent.parent / "docs" / "howto" / "templates.md"


def page_template() -> Template:
    """The page's one ```django block."""
    (block,) = re.findall(r"```django\n(.*?)```", PAGE.read_text(), re.S)
    return Template(block)


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("/inbox/", '<a href="/inbox/">'),
        ("https://example.com/a?b=1&c=2", '<a href="https://example.com/a?b=1&amp;c=2">'),
        ("javascript:alert(1)", None),
        ("//evil.example/", None),
        ("data:text/html,<b>x</b>", None),
        (None, None),
    ],
)
def test_the_docs_template_links_only_safe_urls(url, link):
    message = Message(message="Your export is ready", meta={"url": url} if url else {})
    html = page_template().render(Context({"messages": [message]}))
    assert "Your export is ready" in html
    if link is None:
        assert "<a " not in html
    else:
        assert link in html
