#!/usr/bin/env bash
# Set up and start the example project: bash example_project/start.sh [ADDRESS:PORT]
#
# Creates .venv in the repository if it is missing, installs the package with its "example"
# extra (and "postgresql" when DATABASE_URL points at PostgreSQL), then runs
# `manage.py demo`: migrate, the demo users and messages, and the development server.
set -euo pipefail

cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $python ..."
    "$python" -m venv .venv
fi

extras="example"
modules="user_messages, graphene_django"
case "${DATABASE_URL:-}" in
    postgres://* | postgresql://*)
        extras="example,postgresql"
        modules="$modules, psycopg"
        ;;
esac

# Install only when something is missing, so that a restart is quick.
if ! .venv/bin/python -c "import $modules" 2>/dev/null; then
    echo "Installing django-user-messages-plus[$extras] into .venv ..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
fi

exec .venv/bin/python example_project/manage.py demo "$@"
