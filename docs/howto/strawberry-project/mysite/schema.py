"""The GraphQL schema on Strawberry: the package's fields composed into the project's own."""

import strawberry

import user_messages.strawberry


@strawberry.type
class Query(user_messages.strawberry.Query):
    pass


@strawberry.type
class Mutation(user_messages.strawberry.Mutation):
    pass


@strawberry.type
class Subscription(user_messages.strawberry.Subscription):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # The package's document limits (length, tokens, depth, fields), checked before validation.
    extensions=[user_messages.strawberry.QueryLimits],
)
