"""The schema a host project composes from the package's mixins, and the operations clients send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import graphene
from django.test import Client

import user_messages.schema

OPERATIONS_DIR = Path(__file__).resolve().parent.parent / "schema" / "operations"


class Query(user_messages.schema.Query, graphene.ObjectType):
    pass


class Mutation(user_messages.schema.Mutation, graphene.ObjectType):
    pass


class Subscription(user_messages.schema.Subscription, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=Subscription)


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
