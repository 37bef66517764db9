from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def messages_page(request: HttpRequest) -> HttpResponse:
    """Render the messages list; ?flash=text adds a django.contrib.messages message first."""
    if "flash" in request.GET:
        messages.info(request, request.GET["flash"])
    return render(request, "messages_page.html")


def package_template_page(request: HttpRequest) -> HttpResponse:
    """A page that shows messages with the package's own template; ?flash= as above."""
    if "flash" in request.GET:
        messages.info(request, request.GET["flash"])
    return render(request, "package_template_page.html")
