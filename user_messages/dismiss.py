"""Views a server-rendered page posts to: dismiss (acknowledge) or archive stored messages.

Mounted with ``path("messages/", include("user_messages.urls"))``; they need neither graphene
nor Channels nor Strawberry. Each view accepts POST only (anything else: 405, ``Allow: POST``),
keeps Django's CSRF protection, and calls the same ``api`` function as the GraphQL mutation, so
the rules (only the caller's own messages; ids of others' messages are unknown ids) are shared.

What a view answers depends on who asks:

- a form post (no JavaScript): a redirect to ``next`` when it is safe (the rule of Django's
  ``LoginView``), else to the ``Referer`` when it is on this site, else to
  ``USER_MESSAGES["DISMISS_REDIRECT_URL"]``;
- htmx (``HX-Request: true``): ``204 No Content``;
- a client that prefers ``application/json`` in ``Accept``: a small JSON object.

An anonymous form post is sent to the login page (and back to the page it came from after
signing in); an anonymous htmx or JSON request gets ``403`` with a JSON error.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.utils.http import parse_header_parameters, url_has_allowed_host_and_scheme
from django.views import View

from user_messages import api, validation
from user_messages.conf import conf

__all__ = [
    "AcknowledgeAllView",
    "AcknowledgeView",
    "ArchiveView",
    "MessageActionView",
    "prefers_json",
]


def prefers_json(request: HttpRequest) -> bool:
    """Whether ``Accept`` ranks ``application/json`` above ``text/html`` (a tie is HTML).

    Each type's quality comes from the most specific range that matches it, as RFC 9110 says;
    a browser's form post (``text/html,...,*/*;q=0.8``) and a bare ``*/*`` are HTML.
    """
    best = {"application/json": (-1, 0.0), "text/html": (-1, 0.0)}  # (specificity, quality)
    for part in request.headers.get("Accept", "").split(","):
        media_range, params = parse_header_parameters(part)
        try:
            quality = float(params.get("q", 1))
        except ValueError:
            quality = 0.0
        for media_type, (specificity, _) in best.items():
            matched = _specificity(media_range.lower(), media_type)
            if matched > specificity:
                best[media_type] = (matched, quality)
    return best["application/json"][1] > best["text/html"][1]


def _specificity(media_range: str, media_type: str) -> int:
    """How specifically ``media_range`` names ``media_type``: 2 exact, 1 ``type/*``, 0 ``*/*``."""
    if media_range == media_type:
        return 2
    if media_range == f"{media_type.split('/')[0]}/*":
        return 1
    return 0 if media_range == "*/*" else -1


class MessageActionView(View):
    """The shared behaviour: POST only, login, and the answer (redirect, 204 or JSON).

    Subclasses implement ``act``. ``success_url_allowed_hosts`` names hosts besides the
    request's own that ``next`` and the ``Referer`` may point to, as on Django's ``LoginView``.
    """

    http_method_names = ["post"]
    redirect_field_name: ClassVar[str] = "next"
    success_url_allowed_hosts: ClassVar[set[str]] = set()

    def act(self, user: Any, **kwargs: Any) -> dict[str, Any]:
        """Do the work for ``user``; return the JSON answer's fields (besides pendingCount)."""
        raise NotImplementedError

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """Act for the signed-in user, then answer as the client asked."""
        if not request.user.is_authenticated:
            if self._from_script(request):
                return JsonResponse(
                    {"error": {"code": "unauthenticated", "message": "Sign in first."}},
                    status=403,
                )
            return redirect_to_login(self.get_redirect_url())
        result = self.act(request.user, **kwargs)
        if request.headers.get("HX-Request") == "true":
            return HttpResponse(status=204)
        if prefers_json(request):
            return JsonResponse({**result, "pendingCount": api.pending_count(request.user)})
        return HttpResponseRedirect(self.get_redirect_url())

    def _from_script(self, request: HttpRequest) -> bool:
        return request.headers.get("HX-Request") == "true" or prefers_json(request)

    def get_success_url_allowed_hosts(self) -> set[str]:
        """The hosts ``next`` and the ``Referer`` may point to: this one and the class's."""
        return {self.request.get_host(), *self.success_url_allowed_hosts}

    def get_redirect_url(self) -> str:
        """Where a form post goes back to: ``next``, else the ``Referer``, else the setting."""
        field = self.redirect_field_name
        allowed_hosts = self.get_success_url_allowed_hosts()
        for url in (
            self.request.POST.get(field, self.request.GET.get(field)),
            self.request.headers.get("Referer"),
        ):
            if url and url_has_allowed_host_and_scheme(
                url, allowed_hosts=allowed_hosts, require_https=self.request.is_secure()
            ):
                return url
        return resolve_url(conf.DISMISS_REDIRECT_URL)


def _own_ids(message_id: str) -> list[int]:
    """``[id]``, or ``[]`` for an id no message can have: it then matches nothing, as unknown."""
    try:
        return [validation.message_id(message_id)]
    except validation.InvalidInput:
        return []


class AcknowledgeView(MessageActionView):
    """Dismiss one message: ``api.acknowledge_owned``, as ``acknowledgeMessages`` does."""

    def act(self, user: Any, **kwargs: Any) -> dict[str, Any]:
        """Acknowledge the message in the URL if it is ``user``'s."""
        return {"acknowledgedIds": api.acknowledge_owned(user, _own_ids(kwargs["message_id"]))}


class AcknowledgeAllView(MessageActionView):
    """Dismiss every pending message: ``api.acknowledge_all``, as ``acknowledgeAllMessages``."""

    def act(self, user: Any, **kwargs: Any) -> dict[str, Any]:
        """Acknowledge every pending message of ``user``."""
        return {"acknowledgedCount": api.acknowledge_all(user)}


class ArchiveView(MessageActionView):
    """Remove one message from the inbox: ``api.archive``, as ``archiveMessages`` does.

    Archiving a message that would still be shown acknowledges it too.
    """

    def act(self, user: Any, **kwargs: Any) -> dict[str, Any]:
        """Archive the message in the URL if it is ``user``'s."""
        return {"archivedIds": api.archive(user, _own_ids(kwargs["message_id"]))}
