"""The example project's pages: the classic page, the single-page app and what they post to."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from example_project.forms import SendMessageForm
from user_messages import api

#: Session key holding the input of a send form that was refused, for the next classic page.
_REJECTED_SEND = "example_project.rejected_send"


@login_required
def classic(request: HttpRequest) -> HttpResponse:
    """Server-rendered page: shows `messages` from the context processor and the send form."""
    # An invalid send comes back here by redirect, its input kept in the session for one view.
    rejected = request.session.pop(_REJECTED_SEND, None)
    form = SendMessageForm(rejected) if rejected is not None else SendMessageForm()
    return render(request, "example_project/classic.html", {"form": form})


@login_required
@require_POST
def send(request: HttpRequest) -> HttpResponse:
    """Send the logged-in user a message, then show it on the page the visitor chose."""
    form = SendMessageForm(request.POST)
    if not form.is_valid():
        # Redirect after POST here too, so that a reload does not post the form again.
        request.session[_REJECTED_SEND] = {
            name: value for name, value in request.POST.items() if name != "csrfmiddlewaretoken"
        }
        return redirect("classic")
    form.send(request)
    # Redirect after POST, so that a reload shows what a later visit would show.
    return redirect("spa" if request.POST.get("then") == "spa" else "classic")


@login_required
@ensure_csrf_cookie  # the app reads the token from this cookie for its POSTs to /graphql
def spa(request: HttpRequest) -> HttpResponse:
    """The single-page app's shell; everything on it comes from /graphql."""
    return render(request, "example_project/spa.html")


@require_GET
def operation(request: HttpRequest, name: str) -> HttpResponse:
    """Serve one file of schema/operations/ verbatim, so the app uses the published contract."""
    # The URL pattern allows only letters and digits, so `name` cannot leave the folder.
    path = settings.GRAPHQL_OPERATIONS_DIR / f"{name}.graphql"
    if not path.is_file():
        raise Http404(f"No operation {name!r}.")
    return HttpResponse(path.read_text(encoding="utf-8"), content_type="text/plain; charset=utf-8")


async def inbox(request: HttpRequest) -> HttpResponse:
    """An async view on the async API: GET peeks at the inbox, POST reads it (consuming)."""
    if request.method not in ("GET", "POST"):
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    # request.auser() is Django 5.0+; on 4.2 the session's user is loaded in a thread.
    user = await (
        request.auser() if hasattr(request, "auser") else sync_to_async(get_user)(request)
    )
    if not user.is_authenticated:
        return JsonResponse({"error": "Sign in first."}, status=403)
    read = api.aget_messages if request.method == "POST" else api.apeek_messages
    messages = await read(request=request)
    return JsonResponse(
        {
            "messages": [str(message) for message in messages],
            "pendingCount": await api.apending_count(user),
        }
    )
