"""The README's ``asgi.py`` is a whole file that a project can start from, imports included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = "# myproject/asgi.py: the whole file\n"


def readme_asgi() -> str:
    """The README's asgi.py: from its marker line to the end of the code block."""
    text = (REPO / "README.md").read_text()
    assert text.count(MARKER) == 1, f"README.md needs exactly one {MARKER!r}"
    start = text.index(MARKER)
    return text[start : text.index("```", start)]


def test_the_readme_asgi_file_imports_and_routes_the_socket(tmp_path: Path) -> None:
    project = tmp_path / "myproject"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text(
        "from tests.settings import *  # noqa: F403\nINSTALLED_APPS = ['daphne', *INSTALLED_APPS]\n"
    )
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
