"""Template tags and filters for rendering messages: ``{% load user_messages %}``."""

from __future__ import annotations

from typing import Any

from django import template

from user_messages import links

register = template.Library()


@register.filter
def safe_link(value: object) -> str:
    """``value`` if it may be a link (``user_messages.links.safe_link``), else ``""``."""
    return links.safe_link(value)


def dismissable(message: object) -> bool:
    """Whether ``message`` is a stored sticky message, the kind a page can dismiss."""
    # A deliver-once message is done once shown; Django's own messages have no id.
    return bool(getattr(message, "pk", None)) and getattr(message, "deliver_once", True) is False


@register.inclusion_tag("user_messages/dismiss_form.html", takes_context=True)
def dismiss_form(
    context: template.Context, message: Any, next: str | None = None
) -> dict[str, Any]:
    """The Dismiss form of a sticky stored message (``user_messages/dismiss_form.html``).

    Renders nothing for other messages. The form posts back to ``next``, by default the
    current page (``request.get_full_path()``, with the ``request`` context processor).
    """
    if not dismissable(message):
        return {"message": None}
    if next is None:
        request = context.get("request")
        next = request.get_full_path() if request is not None else ""
    # Django's InclusionNode copies csrf_token into the form's context.
    return {"message": message, "next": next}


@register.simple_tag
def message_actions(message: Any) -> list[dict[str, str]]:
    """``message``'s action buttons whose URL passes ``safe_link``: ``[{"label", "url"}]``."""
    # links.safe_actions is the readers' one rule (GraphQL and the admin use it too).
    return links.safe_actions(getattr(message, "actions", None))
