from __future__ import annotations

from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """The bench, compare, hostile and load-test commands, kept apart from the demo they measure."""

    name = "example_project.benchmarks"
    verbose_name = "Example project benchmarks"
