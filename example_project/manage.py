#!/usr/bin/env python
"""The example project's manage.py: `python example_project/manage.py demo` sets up and serves."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Run a management command with the example project's settings."""
    # The project is the package `example_project`; put the repository on the path so that it
    # imports the same way whatever the working directory.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
