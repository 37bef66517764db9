"""The operations clients send (schema/operations/), and how an SPA posts one to /graphql."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.test import Client
from graphql import GraphQLSchema, build_schema

OPERATIONS_DIR = Path(__file__).resolve().parent.parent / "schema" / "operations"


def operation(name: str) -> str:
    """The text of schema/operations/<name>.graphql, as the example SPA loads it."""
    return (OPERATIONS_DIR / f"{name}.graphql").read_text()


def post_operation(
    client: Client, name: str, variables: dict[str, Any] | None = None, **headers: Any
) -> dict[str, Any]:
    """POST a stored operation to /graphql as an SPA does; return the decoded JSON response."""
    response = client.post(
        "/graphql",
        json.dumps({"query": operation(name), "operationName": name, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 200, response.content
    return response.json()


def contract_schema() -> GraphQLSchema:
    """schema/schema.graphql, built: what both stacks' schemas print."""
    return build_schema((OPERATIONS_DIR.parent / "schema.graphql").read_text())
