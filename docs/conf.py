"""Sphinx configuration: MyST Markdown pages, the Furo theme, autodoc of the package.

Build (warnings are errors, references to the package's own objects are checked):
    python -m sphinx -W --keep-going -n -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path[:0] = [str(REPO), str(DOCS / "_ext")]

# autodoc imports the package's modules, which need configured settings and loaded apps.
if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.admin",
            "graphene_django",
            "user_messages",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
    )
    django.setup()

from user_messages import __version__  # noqa: E402

project = "django-user-messages-plus"
author = "The django-user-messages-plus contributors"
copyright = "The django-user-messages-plus contributors"
release = version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "graphql_sdl",
    # A copy button on code blocks; its script and styles ship in its wheel (offline).
    "sphinx_copybutton",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "tutorial/mysite", "howto/strawberry-project", "**/README.md"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
# Slugs for headings down to ###, so pages link to sections as [text](page.md#slug).
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Each directive of reference/api.md names the members it shows: internals stay out.
autodoc_default_options: dict[str, object] = {}

# Nitpicky for the package's own objects; Django's, graphene's and the standard library's
# are not documented here (no intersphinx: the build stays offline).
nitpicky = True
nitpick_ignore_regex = [(r"py:.*", r"^(?!user_messages\b).*")]
# MessageAdmin.form names the admin's private add/change form, which is not public API.
nitpick_ignore = [("py:class", "user_messages.admin.MessageForm")]

html_theme = "furo"
html_title = f"django-user-messages-plus {release}"
html_static_path: list[str] = []
# Nothing from a CDN: Furo ships its assets; no search-index fetch from elsewhere either.
html_show_sourcelink = False
