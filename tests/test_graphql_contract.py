"""The contract in schema/: the SDL matches the code, and the stored operations work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from graphql import (
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    is_specified_scalar_type,
    parse,
    print_ast,
    print_schema,
    print_type,
    validate,
)

from tests.operations import OPERATIONS_DIR, operation, post_operation
from user_messages import api

SDL = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"
REGENERATE = (
    "python -m django graphql_schema --settings tests.settings "
    "--schema tests.schema.schema --out schema/schema.graphql"
)


#: What the example SPA relies on: operation name -> its variable definitions.
OPERATIONS = {
    "MyMessages": ["$peek: Boolean", "$categories: [String!]"],
    "MyMessageCount": ["$categories: [String!]"],
    "MyMessageCounts": [],
    "MyMessagePreferences": [],
    "SetMessagePreferences": ["$input: [MessagePreferenceInput!]!"],
    "AcknowledgeMessages": ["$ids: [ID!]!"],
    "AcknowledgeAllMessages": [],
    "ArchiveMessages": ["$ids: [ID!]!"],
    "UnarchiveMessages": ["$ids: [ID!]!"],
    "MyMessageHistory": [
        "$first: Int",
        "$after: String",
        "$states: [MessageState!]",
        "$categories: [String!]",
        "$archived: Boolean",
    ],
    "SendMessage": ["$input: SendMessageInput!"],
    # Served over WebSocket only: tests/test_realtime.py runs it.
    "MyMessageCountChanged": ["$categories: [String!]"],
}


STACKS = ["graphene", "strawberry"]
#: schema/schema.graphql, built.
CONTRACT = build_schema(SDL.read_text())


def schema_of(stack: str) -> GraphQLSchema:
    """The stack's GraphQL schema as a host project composes it (skip if it is not installed)."""
    if stack == "graphene":
        pytest.importorskip("graphene_django")
        from tests.schema import schema

        return schema.graphql_schema  # type: ignore[no-any-return]
    pytest.importorskip("strawberry")
    from tests.strawberry_schema import schema as strawberry_schema

    return strawberry_schema._schema


def test_schema_graphql_is_the_sdl_printed_from_the_graphene_code() -> None:
    assert SDL.read_text() == print_schema(schema_of("graphene")), f"Regenerate: {REGENERATE}"


def _printed_types(graphql_schema: GraphQLSchema) -> dict[str, str]:
    """Each type the schema defines (object, input, enum, scalar) printed as SDL, by name."""
    return {
        name: print_type(named_type)
        for name, named_type in graphql_schema.type_map.items()
        if not name.startswith("__") and not is_specified_scalar_type(named_type)
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_prints_schema_graphql_type_by_type(stack: str) -> None:
    expected = _printed_types(CONTRACT)
    printed = _printed_types(schema_of(stack))

    assert sorted(printed) == sorted(expected)
    for name, text in expected.items():
        assert printed[name] == text, name


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_prints_schema_graphql_as_a_whole(stack: str) -> None:
    assert print_schema(schema_of(stack)) == SDL.read_text()


def test_the_operations_directory_holds_exactly_the_agreed_operations() -> None:
    assert sorted(path.stem for path in OPERATIONS_DIR.glob("*.graphql")) == sorted(OPERATIONS)


@pytest.mark.parametrize("name", OPERATIONS)
def test_each_operation_has_its_agreed_name_and_variables(name: str) -> None:
    (definition,) = parse(operation(name)).definitions
    assert isinstance(definition, OperationDefinitionNode)

    assert definition.name is not None
    assert definition.name.value == name
    # graphql-core 3.3 gives None for no variables, 3.2 an empty tuple.
    variables = definition.variable_definitions or ()
    assert [print_ast(variable) for variable in variables] == (OPERATIONS[name])


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_each_operation_is_valid_against_the_schema(stack: str, name: str) -> None:
    assert validate(schema_of(stack), parse(operation(name))) == []


@pytest.mark.usefixtures("stack")
@pytest.mark.parametrize(
    ("name", "variables", "data"),
    [
        ("MyMessages", {"peek": True}, {"myMessages": []}),
        ("MyMessageCount", {}, {"myMessageCount": 0}),
        ("MyMessageCount", {"categories": [""]}, {"myMessageCount": 0}),
        (
            "MyMessageCounts",
            {},
            {"myMessageCounts": [{"category": "", "label": "", "pendingCount": 0}]},
        ),
        (
            "MyMessageHistory",
            {"first": 5},
            {
                "myMessageHistory": {
                    "edges": [],
                    "pageInfo": {"hasNextPage": False, "endCursor": None},
                    "pendingCount": 0,
                }
            },
        ),
        ("MyMessagePreferences", {}, {"myMessagePreferences": []}),
        (
            "SetMessagePreferences",
            {"input": []},
            {"setMessagePreferences": {"preferences": [], "errors": []}},
        ),
        (
            "AcknowledgeAllMessages",
            {},
            {
                "acknowledgeAllMessages": {
                    "acknowledgedCount": 0,
                    "pendingCount": 0,
                    "errors": [],
                }
            },
        ),
        (
            "AcknowledgeMessages",
            {"ids": []},
            {"acknowledgeMessages": {"acknowledgedIds": [], "pendingCount": 0, "errors": []}},
        ),
        (
            "ArchiveMessages",
            {"ids": []},
            {"archiveMessages": {"archivedIds": [], "pendingCount": 0, "errors": []}},
        ),
        (
            "UnarchiveMessages",
            {"ids": []},
            {"unarchiveMessages": {"unarchivedIds": [], "pendingCount": 0, "errors": []}},
        ),
        (
            "SendMessage",
            {"input": {"recipients": [], "level": "INFO", "message": "Hi"}},
            {
                "sendMessage": {
                    "count": 0,
                    "errors": [
                        {
                            "field": "recipients",
                            "code": "REQUIRED",
                            "message": "Name at least one recipient.",
                        }
                    ],
                }
            },
        ),
    ],
)
def test_each_operation_runs_through_the_view(
    client: Client,
    user: AbstractBaseUser,
    name: str,
    variables: dict[str, Any],
    data: dict[str, Any],
) -> None:
    user.is_superuser = True
    user.save()
    client.force_login(user)

    assert post_operation(client, name, variables) == {"data": data}


@pytest.mark.usefixtures("stack")
def test_my_messages_operation_asks_for_every_field_of_a_message(
    client: Client, user: AbstractBaseUser
) -> None:
    client.force_login(user)
    api.info(user, "Hello.")

    (message,) = post_operation(client, "MyMessages")["data"]["myMessages"]

    assert sorted(message) == sorted(CONTRACT.get_type("UserMessage").fields)  # type: ignore[union-attr]


@pytest.mark.usefixtures("stack")
def test_my_message_history_operation_asks_for_every_field_of_a_message(
    client: Client, user: AbstractBaseUser
) -> None:
    client.force_login(user)
    api.info(user, "Hello.")

    data = post_operation(client, "MyMessageHistory")["data"]["myMessageHistory"]

    (edge,) = data["edges"]
    assert sorted(edge["node"]) == sorted(CONTRACT.get_type("UserMessage").fields)  # type: ignore[union-attr]


def test_every_type_field_argument_and_enum_value_of_the_contract_is_described() -> None:
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLObjectType,
        build_schema,
    )

    schema = build_schema(SDL.read_text())
    # The root types are the host project's: it composes the package's fields into its own.
    roots = {"Query", "Mutation", "Subscription"}
    undescribed = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not type_.description and name not in roots:
            undescribed.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    undescribed.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        undescribed.append(f"{name}.{field_name}({arg_name})")
        if isinstance(type_, GraphQLEnumType):
            undescribed += [
                f"{name}.{v}" for v, value in type_.values.items() if not value.description
            ]

    assert undescribed == []
