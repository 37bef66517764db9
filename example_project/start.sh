#!/usr/bin/env bash
# Set up and start the example project: bash example_project/start.sh [ADDRESS:PORT]
#
# Creates .venv in the repository if it is missing, installs the package with its "example"
# extra (and "postgresql" when DATABASE_URL points at PostgreSQL), then runs
# `manage.py demo`: migrate, the demo users and messages, and the development server.
# GRAPHQL_STACK=strawberry also installs the "strawberry" extra and serves /graphql from it.
# VENV picks the virtualenv folder (default .venv). The demo serves 127.0.0.1 only: another
# address needs DEMO_PUBLIC=1 (see `manage.py demo --help` for what that exposes).
set -euo pipefail

cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"

if [ ! -x "$venv/bin/python" ]; then
    echo "Creating $venv with $python ..."
    "$python" -m venv "$venv"
fi

extras="example"
modules="user_messages, graphene_django, channels, daphne"
case "${DATABASE_URL:-}" in
    postgres://* | postgresql://*)
        extras="example,postgresql"
        modules="$modules, psycopg"
        ;;
esac
# GRAPHQL_STACK=strawberry serves /graphql from Strawberry (example_project/settings.py).
if [ "${GRAPHQL_STACK:-graphene}" = "strawberry" ]; then
    extras="$extras,strawberry"
    modules="$modules, strawberry, strawberry_django"
fi

# Install only when something is missing, so that a restart is quick (and works offline). Find
# the modules without importing them: importing graphene_django needs configured settings. -I
# keeps the current directory off sys.path, so the checkout's user_messages/ does not count.
if ! "$venv/bin/python" -I -c '
import importlib.util, sys
sys.exit(any(importlib.util.find_spec(name.strip()) is None for name in sys.argv[1].split(",")))
' "$modules"; then
    echo "Installing django-user-messages-plus[$extras] into $venv ..."
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
fi

exec "$venv/bin/python" example_project/manage.py demo "$@"
