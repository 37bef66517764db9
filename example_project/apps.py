from __future__ import annotations

from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    """The example project is also an app, for its templates, static files and `demo` command."""

    name = "example_project"
    verbose_name = "Example project"
