"""The classic page's form: send yourself a message of any level and kind of delivery."""

from __future__ import annotations

from django import forms
from django.contrib import messages as session_messages
from django.contrib.messages import constants
from django.core.validators import URLValidator
from django.http import HttpRequest

from user_messages import api

LEVELS = {
    "debug": constants.DEBUG,
    "info": constants.INFO,
    "success": constants.SUCCESS,
    "warning": constants.WARNING,
    "error": constants.ERROR,
}


class SendMessageForm(forms.Form):
    """What a visitor picks to see the three kinds of delivery side by side."""

    DELIVERY_CHOICES = [
        ("once", "Stored, deliver once: shown by the next page or app that reads messages"),
        ("sticky", "Stored, sticky: shown every time until you dismiss it"),
        ("session", "Session (django.contrib.messages): shown on the next page in this browser"),
    ]

    message = forms.CharField(max_length=2000, initial="Hello from the example project!")
    level = forms.ChoiceField(
        choices=[(name, name.capitalize()) for name in LEVELS],
        initial="info",
        widget=forms.RadioSelect,
    )
    delivery = forms.ChoiceField(choices=DELIVERY_CHOICES, initial="once", widget=forms.RadioSelect)
    url = forms.CharField(
        required=False,
        max_length=500,
        label="Link",
        help_text="Optional, stored messages only: an https:// or /relative URL, kept in meta.",
    )

    def clean_url(self) -> str:
        """Accept an http(s) URL or a path on this site; nothing a browser would run."""
        url = self.cleaned_data["url"].strip()
        if url.startswith("/") and not url.startswith("//"):
            return url
        if url:
            URLValidator(schemes=["http", "https"])(url)
        return url

    def send(self, request: HttpRequest) -> None:
        """Send the cleaned message to the logged-in user."""
        data = self.cleaned_data
        level = LEVELS[data["level"]]
        if data["delivery"] == "session":
            session_messages.add_message(request, level, data["message"])
            return
        api.add_message(
            request.user,
            level,
            data["message"],
            deliver_once=data["delivery"] == "once",
            meta={"url": data["url"]} if data["url"] else None,
        )
