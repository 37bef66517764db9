"""Template filters of the example project."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def safe_link(value: object) -> str:
    """Return ``value`` if it is an http(s) or relative URL, else "" (no ``javascript:``)."""
    if not isinstance(value, str) or not value:
        return ""
    # Browsers ignore whitespace and control characters inside a scheme ("java\tscript:"), so a
    # URL holding any of them is refused rather than parsed differently from the browser.
    if any(ord(char) <= 0x20 or char == "\\" for char in value):
        return ""
    return value if urlsplit(value).scheme in {"", "http", "https"} else ""
