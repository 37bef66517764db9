"""The tutorial's GraphQL schema: the package's fields composed into the project's own."""

import graphene

import user_messages.schema


class Query(user_messages.schema.Query, graphene.ObjectType):
    pass


class Mutation(user_messages.schema.Mutation, graphene.ObjectType):
    pass


class Subscription(user_messages.schema.Subscription, graphene.ObjectType):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation, subscription=Subscription)
