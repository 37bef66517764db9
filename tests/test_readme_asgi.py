"""The README's ``asgi.py`` is a whole file that a project can start from, imports included."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MARKER = "# myproject/asgi.py: the whole file\n"
#: The Strawberry project's file, in a list item of "Using Strawberry" (indented).
STRAWBERRY_MARKER = "# myproject/asgi.py on Strawberry: the whole file\n"


def readme_asgi(marker: str = MARKER) -> str:
    """The README's asgi.py: from its marker line to the end of the code block."""
    text = (REPO / "README.md").read_text()
    assert text.count(marker) == 1, f"README.md needs exactly one {marker!r}"
    start = text.rindex("\n", 0, text.index(marker)) + 1  # the line's indentation too
    return textwrap.dedent(text[start : text.index("```", start)])


@pytest.mark.parametrize("stack", ["graphene", "strawberry"])
def test_the_readme_asgi_file_imports_and_routes_the_socket(tmp_path: Path, stack: str) -> None:
    if stack == "strawberry":
        pytest.importorskip("strawberry")
    project = tmp_path / "myproject"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text(
        "from tests.settings import *  # noqa: F403\nINSTALLED_APPS = ['daphne', *INSTALLED_APPS]\n"
    )
    if stack == "strawberry":
        (project / "asgi.py").write_text(readme_asgi(STRAWBERRY_MARKER))
        (project / "schema.py").write_text("from tests.strawberry_schema import schema\n")
    else:
        (project / "asgi.py").write_text(readme_asgi())
    # Resolving the route runs what a first WebSocket would: a NameError in the file (the
    # README once used `path` without importing it) fails here, not only under runserver.
    program = (
        "from myproject.asgi import application\n"
        "router = application.application_mapping['websocket'].inner.inner.inner\n"
        "match = router.routes[0].pattern.match('graphql')\n"
        "print(type(application).__name__, bool(match))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env={"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == "ProtocolTypeRouter True"
