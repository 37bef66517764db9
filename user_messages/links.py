"""Which ``meta["url"]`` values may be rendered as a link: one rule for every place that does.

A link is a path on this site (``/inbox``, not ``//host/...``, which browsers read as another
host) or an absolute ``http``/``https`` URL with a host. Anything holding whitespace, control
characters or backslashes is refused: browsers drop or rewrite those inside a scheme or host
("java\\tscript:", "/\\\\host"), so such a value could mean one thing here and another there.
The example SPA (``example_project/static/example_project/spa.js``, ``safeHref``) applies the
same rule in the browser.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["safe_actions", "safe_link"]


def safe_link(value: object) -> str:
    """``value`` if it may be rendered as a link (see the module's rule), else ``""``."""
    if not isinstance(value, str) or not value:
        return ""
    if any(ord(char) <= 0x20 or char in "\\\x7f" for char in value):
        return ""
    if value.startswith("/"):
        return "" if value.startswith("//") else value
    parts = urlsplit(value)
    return value if parts.scheme in {"http", "https"} and parts.netloc else ""


def safe_actions(value: object) -> list[dict[str, str]]:
    """The well-formed actions of a stored ``Message.actions`` whose URL passes ``safe_link``.

    What ``api`` stores always passes; rows written around it (the ORM, SQL, old data) may not,
    and a reader shows only what passes: each a ``{"label": str, "url": str}`` dict.
    """
    if not isinstance(value, list):
        return []
    return [
        {"label": action["label"], "url": action["url"]}
        for action in value
        if isinstance(action, dict)
        and isinstance(action.get("label"), str)
        and action["label"].strip()
        and safe_link(action.get("url"))
    ]
