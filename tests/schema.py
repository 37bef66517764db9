"""The graphene schema a host project composes from the package's mixins."""

from __future__ import annotations

import graphene

import user_messages.schema
from tests.operations import OPERATIONS_DIR, operation, post_operation

__all__ = ["OPERATIONS_DIR", "operation", "post_operation", "schema"]


class Query(user_messages.schema.Query, graphene.ObjectType):
    pass


class Mutation(user_messages.schema.Mutation, graphene.ObjectType):
    pass


class Subscription(user_messages.schema.Subscription, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=Subscription)
