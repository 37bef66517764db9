"""A Sphinx directive that renders the GraphQL reference from schema/schema.graphql.

The SDL is the contract (a test keeps it equal to what the code prints), so the reference is
read from it with graphql-core instead of being written a second time:

    ```{graphql-schema} ../../schema/schema.graphql
    ```

Each root field, type, input, enum and scalar becomes a section with its description; each
field lists its arguments (with defaults) and links its types to their sections.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    print_ast,
)
from graphql.type.definition import GraphQLType
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _anchor(name: str) -> str:
    return f"graphql-{name.lower()}"


def _type_nodes(type_: GraphQLType) -> list[nodes.Node]:
    """``[UserMessage!]!`` with the named type linked to its section."""
    if isinstance(type_, GraphQLNonNull):
        return [*_type_nodes(type_.of_type), nodes.Text("!")]
    if isinstance(type_, GraphQLList):
        return [nodes.Text("["), *_type_nodes(type_.of_type), nodes.Text("]")]
    name = type_.name  # type: ignore[attr-defined]
    if name in BUILT_IN:
        return [nodes.literal(text=name)]
    ref = nodes.reference("", "", internal=True, refid=_anchor(name))
    ref += nodes.literal(text=name)
    return [ref]


Render = Callable[[str | None], list[nodes.Node]]


def _default(arg: GraphQLArgument | GraphQLInputField) -> str:
    """`` = value`` as the SDL writes the default, or nothing."""
    node = arg.ast_node.default_value if arg.ast_node is not None else None
    return f" = {print_ast(node)}" if node is not None else ""


def _field_item(
    name: str,
    field: GraphQLField | GraphQLInputField,
    args: dict[str, GraphQLArgument],
    markdown: Render,
) -> nodes.definition_list_item:
    term = nodes.term()
    term += nodes.literal(text=name)
    if args:
        term += nodes.Text("(")
        for index, (arg_name, arg) in enumerate(args.items()):
            if index:
                term += nodes.Text(", ")
            term += nodes.literal(text=arg_name)
            term += nodes.Text(": ")
            term += _type_nodes(arg.type)
            term += nodes.Text(_default(arg))
        term += nodes.Text(")")
    term += nodes.Text(": ")
    term += _type_nodes(field.type)
    if isinstance(field, GraphQLInputField):
        term += nodes.Text(_default(field))
    definition = nodes.definition()
    definition += markdown(field.description)
    if args and any(arg.description for arg in args.values()):
        arg_list = nodes.bullet_list()
        for arg_name, arg in args.items():
            if arg.description:
                item = nodes.list_item()
                item += markdown(f"`{arg_name}`: {arg.description}")
                arg_list += item
        definition += arg_list
    if getattr(field, "deprecation_reason", None):
        definition += nodes.paragraph(text=f"Deprecated: {field.deprecation_reason}")
    item = nodes.definition_list_item()
    item += term
    item += definition
    return item


class GraphQLSchemaDirective(SphinxDirective):
    """Render every type of an SDL file as sections of the current page."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        path = (Path(self.env.doc2path(self.env.docname)).parent / self.arguments[0]).resolve()
        self.env.note_dependency(str(path))
        schema = build_schema(path.read_text())
        return [*self._roots(schema), *self._types(schema)]

    def _markdown(self, text: str | None) -> list[nodes.Node]:
        """A description as the Markdown it is written in (backticks, links), parsed by MyST."""
        if not text or not text.strip():
            return []
        container = nodes.container()
        source = self.env.docname
        self.state.nested_parse(
            StringList(text.splitlines(), source=source), self.content_offset, container
        )
        return list(container.children)

    def _section(self, title: str, anchor: str) -> nodes.section:
        section = nodes.section(ids=[anchor], names=[anchor])
        section += nodes.title(text=title)
        return section

    def _roots(self, schema: GraphQLSchema) -> list[nodes.Node]:
        sections = []
        for label, root in (
            ("Queries", schema.query_type),
            ("Mutations", schema.mutation_type),
            ("Subscriptions", schema.subscription_type),
        ):
            if root is None:
                continue
            section = self._section(label, _anchor(root.name))
            section += nodes.paragraph(text=f"The fields of the root type {root.name}.")
            fields = nodes.definition_list()
            for name, field in root.fields.items():
                fields += _field_item(name, field, field.args, self._markdown)
            section += fields
            sections.append(section)
        return sections

    def _types(self, schema: GraphQLSchema) -> list[nodes.Node]:
        roots = {
            t.name for t in (schema.query_type, schema.mutation_type, schema.subscription_type) if t
        }
        named: list[GraphQLNamedType] = [
            t
            for name, t in sorted(schema.type_map.items())
            if not name.startswith("__") and name not in BUILT_IN and name not in roots
        ]
        groups: list[tuple[str, type[GraphQLNamedType]]] = [
            ("Object types", GraphQLObjectType),
            ("Input types", GraphQLInputObjectType),
            ("Enums", GraphQLEnumType),
            ("Scalars", GraphQLScalarType),
        ]
        sections = []
        for label, kind in groups:
            group = self._section(label, _anchor(label.replace(" ", "-")))
            for type_ in (t for t in named if isinstance(t, kind)):
                section = self._section(type_.name, _anchor(type_.name))
                section += self._markdown(type_.description)
                if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
                    fields = nodes.definition_list()
                    for name, field in type_.fields.items():
                        args = field.args if isinstance(field, GraphQLField) else {}
                        fields += _field_item(name, field, args, self._markdown)
                    section += fields
                elif isinstance(type_, GraphQLEnumType):
                    values = nodes.definition_list()
                    for name, value in type_.values.items():
                        item = nodes.definition_list_item()
                        term = nodes.term()
                        term += nodes.literal(text=name)
                        item += term
                        definition = nodes.definition()
                        definition += self._markdown(value.description)
                        item += definition
                        values += item
                    section += values
                group += section
            sections.append(group)
        return sections


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``graphql-schema`` directive."""
    app.add_directive("graphql-schema", GraphQLSchemaDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
