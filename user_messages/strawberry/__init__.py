"""The GraphQL API on Strawberry: the same contract (``schema/schema.graphql``) as the graphene one.

Merge ``Query``, ``Mutation`` and ``Subscription`` into your project's ``strawberry.Schema``
and mount ``GraphQLView`` (``AsyncGraphQLView`` in an async project) at ``/graphql``. Only
projects that install the ``strawberry`` extra import this package; it never imports graphene.
"""

from __future__ import annotations

from user_messages.strawberry.extensions import QueryLimits
from user_messages.strawberry.schema import Mutation, Query, Subscription
from user_messages.strawberry.types import DateTime
from user_messages.strawberry.views import AsyncGraphQLView, GraphQLView

__all__ = [
    "AsyncGraphQLView",
    "DateTime",
    "GraphQLView",
    "Mutation",
    "Query",
    "QueryLimits",
    "Subscription",
]
