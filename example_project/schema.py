"""The example project's GraphQL schema: the package's Query and Mutation mixed into our own."""

from __future__ import annotations

import graphene

import user_messages.schema


class Query(user_messages.schema.Query, graphene.ObjectType):
    """Root query: a real project adds its own fields next to the mixin's."""


class Mutation(user_messages.schema.Mutation, graphene.ObjectType):
    """Root mutation: a real project adds its own mutations next to the mixin's."""


class Subscription(user_messages.schema.Subscription, graphene.ObjectType):
    """Root subscription, served over WebSocket (example_project/asgi.py)."""


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=Subscription)
