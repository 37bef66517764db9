"""The GraphQL API on Strawberry: the same contract (``schema/schema.graphql``) as the graphene one.

Merge ``Query``, ``Mutation`` and ``Subscription`` into your project's ``strawberry.Schema``
and mount ``GraphQLView`` (``AsyncGraphQLView`` in an async project) at ``/graphql``, or route
``/graphql`` to ``GraphQLHTTPConsumer`` in a Channels project (imported from Channels only when
asked for). Only projects that install the ``strawberry`` extra import this package; it never
imports graphene.
"""

from __future__ import annotations

from typing import Any

from user_messages.strawberry.extensions import QueryLimits
from user_messages.strawberry.schema import Mutation, Query, Subscription
from user_messages.strawberry.types import DateTime
from user_messages.strawberry.views import AsyncGraphQLView, GraphQLView

__all__ = [
    "AsyncGraphQLView",
    "DateTime",
    "GraphQLHTTPConsumer",
    "GraphQLView",
    "Mutation",
    "Query",
    "QueryLimits",
    "Subscription",
]


def __getattr__(name: str) -> Any:
    """``GraphQLHTTPConsumer``, imported on first use: it needs Channels, the rest does not."""
    if name == "GraphQLHTTPConsumer":
        from user_messages.strawberry.channels_http import GraphQLHTTPConsumer

        return GraphQLHTTPConsumer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
