"""Template filters for rendering messages: ``{% load user_messages %}``."""

from __future__ import annotations

from django import template

from user_messages import links

register = template.Library()


@register.filter
def safe_link(value: object) -> str:
    """``value`` if it may be a link (``user_messages.links.safe_link``), else ``""``."""
    return links.safe_link(value)
