"""The Strawberry schema a host project composes from the package's types."""

from __future__ import annotations

import strawberry

import user_messages.strawberry

schema = strawberry.Schema(
    query=user_messages.strawberry.Query,
    mutation=user_messages.strawberry.Mutation,
    subscription=user_messages.strawberry.Subscription,
    extensions=[user_messages.strawberry.QueryLimits],
)

#: Without the package's extension, as a host that leaves it out has: the rules the resolvers
#: keep must hold there too (tests/test_hostile_requests.py).
plain_schema = strawberry.Schema(
    query=user_messages.strawberry.Query,
    mutation=user_messages.strawberry.Mutation,
    subscription=user_messages.strawberry.Subscription,
)
