"""The example project's schema on Strawberry (GRAPHQL_STACK=strawberry): the same contract."""

from __future__ import annotations

import strawberry

import user_messages.strawberry


@strawberry.type
class Query(user_messages.strawberry.Query):
    """Root query: a real project adds its own fields next to the package's."""


@strawberry.type
class Mutation(user_messages.strawberry.Mutation):
    """Root mutation: a real project adds its own mutations next to the package's."""


@strawberry.type
class Subscription(user_messages.strawberry.Subscription):
    """Root subscription, served over WebSocket (example_project/asgi.py)."""


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[user_messages.strawberry.QueryLimits],
)
