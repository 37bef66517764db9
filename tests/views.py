from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def messages_page(request: HttpRequest) -> HttpResponse:
    """Render the messages list; ?flash=text adds a django.contrib.messages message first."""
    if "flash" in request.GET:
        messages.info(request, request.GET["flash"])
    return render(request, "messages_page.html")
