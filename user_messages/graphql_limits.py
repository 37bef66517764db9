"""Bounds on what one GraphQL document may ask for, checked before GraphQL's own validation.

The package bounds the work of its own fields; this module bounds the generic costs it cannot
see. ``validate_document()`` first walks the document once, in time linear in its size, and
refuses it when an operation nests fields too deep, when the document selects too many fields
(each alias and each fragment spread counts, fragments expanded), or when fields sharing a
response name would cost GraphQL's ``OverlappingFieldsCanBeMergedRule`` too many comparisons
(it compares every pair of them, recursively), or when a list written in it holds more than
``MAX_LIST_LENGTH`` entries. Only a document within these bounds goes on to GraphQL's specified
rules, whose work they keep to milliseconds. The token limit is the parser's own
(``graphql.parse(max_tokens=...)``). Lists passed as variables are checked per request, before
execution coerces them, by ``variable_list_errors()``.

graphene ships ``depth_limit_validator``, but it raises ``KeyError`` on an unknown fragment and
recurses forever on a fragment cycle, both before the specified rules can report them, so a
hostile document gets a server error. This walk uses no recursion, skips unknown fragments and
fragment cycles (the specified rules report both), and stops once the fields bound is passed.

Only projects that install the ``graphql`` extra import this module.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, cast

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLSchema,
    get_nullable_type,
    get_operation_ast,
    is_input_type,
    parse,
    type_from_ast,
    validate,
)
from graphql.language import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    ListValueNode,
    Location,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    SourceLocation,
    Token,
)
from graphql.language.parser import Parser
from graphql.validation import ASTValidationRule, ValidationRule, specified_rules
from graphql.validation.validate import ValidationAbortedError

from user_messages.conf import DEFAULTS, conf

__all__ = [
    "DocumentLimits",
    "check_off_loop",
    "limit_errors",
    "limits_rule",
    "parse_document",
    "validate_document",
    "validation_rules",
    "variable_list_errors",
]


@dataclass(frozen=True)
class DocumentLimits:
    """The bounds ``limit_errors()`` checks; ``from_settings()`` reads ``USER_MESSAGES``."""

    max_depth: int
    max_fields: int
    max_comparisons: int
    #: Entries of one list written in the document (variables: ``variable_list_errors()``).
    max_list_length: int = DEFAULTS["MAX_LIST_LENGTH"]

    @classmethod
    def from_settings(cls) -> DocumentLimits:
        """The limits configured in ``USER_MESSAGES`` (or their defaults)."""
        return cls(
            conf.MAX_QUERY_DEPTH,
            conf.MAX_QUERY_FIELDS,
            conf.MAX_QUERY_COMPARISONS,
            conf.MAX_LIST_LENGTH,
        )


def parse_document(
    query: str, *, max_length: int | None = None, max_tokens: int | None = None
) -> DocumentNode:
    """Parse ``query`` within ``MAX_QUERY_LENGTH`` characters and ``MAX_QUERY_TOKENS`` tokens.

    Raises ``GraphQLError`` for a syntax error or a document over either limit. The length is
    checked first, in constant time: the parser reads each character in Python (a long
    string, comment or run of whitespace is one token or none). Errors found in the document
    afterwards, by ``validate_document()`` or by execution, locate themselves with string
    searches instead of a Python loop over the text's line breaks.
    """
    max_length = conf.MAX_QUERY_LENGTH if max_length is None else max_length
    max_tokens = conf.MAX_QUERY_TOKENS if max_tokens is None else max_tokens
    if not isinstance(query, str):
        # graphql-core's own TypeError, which says what it received.
        return parse(query, max_tokens=max_tokens)
    if len(query) > max_length:
        raise GraphQLError(f"Document contains more than {max_length} characters. Parsing aborted.")
    source = _IndexedSource(query)
    try:
        return _LocatingParser(source, max_tokens=max_tokens).parse_document()
    except RecursionError:
        pass
    # Out of the except block, so no traceback keeps the recursion's frames: graphql-core's
    # parse() answers with its own syntax error (older releases raise RecursionError again).
    return parse(source, max_tokens=max_tokens)


class _IndexedSource(Source):
    """A document's text that locates a position with string searches, not a Python loop.

    graphql-core's ``Source.get_location`` steps through the text's line breaks in Python for
    each error: 100 errors after 10,000 line breaks cost 0.4 s. Counting and finding the
    breaks with ``str`` methods scans the same text at memory speed.
    """

    def __init__(self, body: str) -> None:
        super().__init__(body)
        # Threads validating this document: its nodes' locations read as absent to them.
        self.validating: set[int] = set()

    def get_location(self, position: int) -> SourceLocation:
        """The 1-indexed line and column of ``position``, as graphql-core finds them."""
        body = self.body
        if body.startswith("\n", position) and body.endswith("\r", 0, position):
            # Between the two characters of one break, which graphql-core counts oddly.
            return super().get_location(position)
        # "\r\n", "\n" and "\r" each end a line: a "\r\n" holds one of each.
        breaks = body.count("\n", 0, position) + body.count("\r", 0, position)
        breaks -= body.count("\r\n", 0, position)
        line_start = max(body.rfind("\n", 0, position), body.rfind("\r", 0, position)) + 1
        return SourceLocation(breaks + 1, position + 1 - line_start)


class _DeferredLocation(Location):
    """A node's location that is falsy while its own document is validated in this thread.

    ``GraphQLError`` locates an error on several nodes (duplicate names, conflicting fields,
    an undefined variable and its operation) by walking the text from its start, bypassing
    ``Source.get_location``; it skips nodes whose location is falsy. ``validate_document()``
    locates its errors afterwards, with ``_IndexedSource.get_location``.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return threading.get_ident() not in cast("_IndexedSource", self.source).validating


class _LocatingParser(Parser):
    """graphql-core's parser, giving each node a ``_DeferredLocation``."""

    def loc(self, start_token: Token) -> Location | None:
        """The node's location, which ``validate_document()`` can hold back from GraphQLError."""
        location = super().loc(start_token)
        if location is None:
            return None
        return _DeferredLocation(location.start_token, location.end_token, location.source)


def validate_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Iterable[type[ASTValidationRule]] = (),
    *,
    max_errors: int | None = None,
    limits: DocumentLimits | None = None,
) -> list[GraphQLError]:
    """The document's errors: the limits first, then GraphQL's specified rules and ``rules``.

    A document over a limit gets only the limits' errors: the specified rules, whose cost the
    limits bound, never see it. Pass a document from ``parse_document()``, whose errors locate
    themselves cheaply (one from ``graphql.parse()`` is validated the same, but each of its
    errors walks the text); HTTP views and WebSocket consumers of both GraphQL stacks call this.
    """
    limits = limits or DocumentLimits.from_settings()
    source = document.loc.source if document.loc is not None else None
    if not isinstance(source, _IndexedSource):
        return _validate(schema, document, rules, max_errors, limits)
    thread = threading.get_ident()
    source.validating.add(thread)
    try:
        errors = _validate(schema, document, rules, max_errors, limits)
    finally:
        source.validating.discard(thread)
    for error in errors:
        _locate(error)
    return errors


def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: Iterable[type[ASTValidationRule]],
    max_errors: int | None,
    limits: DocumentLimits,
) -> list[GraphQLError]:
    errors = limit_errors(document, limits)
    if errors:
        return errors
    all_rules = tuple(dict.fromkeys((*specified_rules, *rules)))
    return validate(schema, document, all_rules, max_errors)


def _locate(error: GraphQLError) -> None:
    """Give an error built while its nodes' locations were held back what GraphQLError would."""
    if error.locations is not None or not error.nodes:
        return
    locations = [node.loc for node in error.nodes if node.loc]
    if locations:
        error.source = locations[0].source
        error.positions = [location.start for location in locations]
        error.locations = [location.source.get_location(location.start) for location in locations]


# One thread per process parses and validates for async code (the WebSocket consumer): the
# work is pure Python and holds the GIL, so more threads would add no throughput, only more
# threads for the event loop to share the GIL with while it answers other sockets.
_VALIDATION_EXECUTOR = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="user_messages-validate"
)


def _parse_and_validate(
    schema: GraphQLSchema, query: str, max_length: int, max_tokens: int, limits: DocumentLimits
) -> tuple[DocumentNode | None, list[GraphQLError]]:
    try:
        document = parse_document(query, max_length=max_length, max_tokens=max_tokens)
    except GraphQLError as error:
        return None, [error]
    return document, validate_document(schema, document, limits=limits)


async def check_off_loop(
    schema: GraphQLSchema, query: str
) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """``parse_document()`` and ``validate_document()`` outside the event loop.

    Returns the document (None when it does not parse) and its errors. The settings are read
    here, in the caller's thread; the work runs in one worker thread shared by the process.
    """
    work = partial(
        _parse_and_validate,
        schema,
        query,
        conf.MAX_QUERY_LENGTH,
        conf.MAX_QUERY_TOKENS,
        DocumentLimits.from_settings(),
    )
    return await asyncio.get_running_loop().run_in_executor(_VALIDATION_EXECUTOR, work)


def limit_errors(document: DocumentNode, limits: DocumentLimits) -> list[GraphQLError]:
    """What the document breaks of ``limits``, found in one walk linear in its size.

    The walk expands fragment spreads, so it visits each field once per place it is spread
    at; it stops as soon as the document selects more than ``max_fields`` fields and spreads,
    which bounds it. Fields that answer the same response path (aliases, repeated fields, the
    same field in several fragments) are compared pairwise by GraphQL's validation: the walk
    counts those comparisons, each weighted by the arguments and sub-selections compared, and
    refuses more than ``max_comparisons``.
    """
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            # The last definition of a name wins, as in graphql-core's ValidationContext.
            fragments[definition.name.value] = definition
        elif isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
    cyclic = _on_cycles(fragments)
    reached = _reached(operations, fragments, cyclic)
    # Operations, then every fragment definition the operations do not expand: GraphQL
    # validates unused, duplicate and cyclic fragments too.
    roots: list[ExecutableDefinitionNode] = [*operations]
    roots += [
        definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode) and id(definition) not in reached
    ]
    paths: dict[tuple[int, str], int] = {}
    counts: list[int] = []
    weights: list[int] = []
    fields_at: dict[int, int] = {}
    spreads_at: dict[int, int] = {}
    selected = comparisons = 0
    errors: list[GraphQLError] = []
    for index, root in enumerate(roots):
        root_selected, depth = 0, 0
        # Each root has a path of its own: fields of two operations are never compared.
        stack: list[tuple[SelectionSetNode, int, int]] = [(root.selection_set, -1 - index, 0)]
        while stack and selected <= limits.max_fields:
            selection_set, path, level = stack.pop()
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    selected += 1
                    root_selected += 1
                    name = (selection.alias or selection.name).value
                    key = (path, name)
                    field_path = paths.get(key)
                    if field_path is None:
                        field_path = paths[key] = len(counts)
                        counts.append(0)
                        weights.append(0)
                    nested = selection.selection_set
                    weight = 1 + len(selection.arguments or ())
                    weight += len(nested.selections) if nested is not None else 0
                    # Compared with each field already at this path, both sides' work counted.
                    comparisons += counts[field_path] * weight + weights[field_path]
                    counts[field_path] += 1
                    weights[field_path] += weight
                    fields_at[path] = fields_at.get(path, 0) + 1
                    depth = max(depth, level + 1)
                    if nested is not None:
                        stack.append((nested, field_path, level + 1))
                elif isinstance(selection, FragmentSpreadNode):
                    selected += 1
                    root_selected += 1
                    spread = selection.name.value
                    fragment = fragments.get(spread)
                    # Spreads meeting at one path are compared with each other pairwise, and
                    # each with the fields there.
                    key = (path, "...")
                    spread_path = paths.get(key)
                    if spread_path is None:
                        spread_path = paths[key] = len(counts)
                        counts.append(0)
                        weights.append(0)
                    weight = 1 + (len(fragment.selection_set.selections) if fragment else 0)
                    comparisons += counts[spread_path] * weight + weights[spread_path]
                    counts[spread_path] += 1
                    weights[spread_path] += weight
                    spreads_at[path] = spreads_at.get(path, 0) + 1
                    if fragment is not None and spread not in cyclic:
                        stack.append((fragment.selection_set, path, level))
                else:
                    # An inline fragment selects at its parent's path and depth.
                    stack.append((selection.selection_set, path, level))  # type: ignore[attr-defined]
        label = _label(root)
        if depth > limits.max_depth:
            errors.append(
                GraphQLError(
                    f"{label} nests fields {depth} deep, more than the limit of "
                    f"{limits.max_depth}.",
                    root,
                )
            )
        if selected > limits.max_fields:
            if root_selected > limits.max_fields:
                message = f"{label} selects more than {limits.max_fields} fields"
            else:
                message = (
                    f"The operations and fragments of the document select more than "
                    f"{limits.max_fields} fields together"
                )
            errors.append(
                GraphQLError(
                    f"{message}; each alias and each fragment spread counts.",
                    root,
                )
            )
            return errors
    errors.extend(_literal_list_errors(document, limits.max_list_length))
    comparisons += sum(fields * spreads_at.get(path, 0) for path, fields in fields_at.items())
    if comparisons > limits.max_comparisons:
        errors.append(
            GraphQLError(
                f"The document repeats response names too often: validating it would compare "
                f"fields {comparisons} times, more than the limit of {limits.max_comparisons}."
                " Select each field once per selection set, or alias the repeats apart.",
            )
        )
    return errors


def _literal_list_errors(document: DocumentNode, max_length: int) -> list[GraphQLError]:
    """The first list value written in the document with more than ``max_length`` entries.

    Visits every node once, without recursion: a literal's nesting is the client's to choose.
    """
    stack: list[Node] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, ListValueNode) and len(node.values) > max_length:
            return [
                GraphQLError(
                    f"A list in the document holds {len(node.values)} entries, more than the "
                    f"limit of {max_length}.",
                    node,
                )
            ]
        for key in node.keys:
            child = getattr(node, key, None)
            if isinstance(child, Node):
                stack.append(child)
            elif isinstance(child, (list, tuple)):
                stack.extend(item for item in child if isinstance(item, Node))
    return []


def variable_list_errors(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Any,
    *,
    max_length: int | None = None,
) -> list[GraphQLError]:
    """An error for a variable value holding a list longer than ``MAX_LIST_LENGTH``.

    Call it after validation and before execution: graphql-core coerces every entry of a
    variable's lists (an enum of 32,000 entries costs about 60 ms) before any resolver can
    refuse them. Reads the raw values along the variables' declared types, so it costs one
    step per list and per entry of a list that may hold lists or input objects, and returns
    at the first list over the limit. Values of custom scalars (JSON) are their own rules'.
    """
    max_length = conf.MAX_LIST_LENGTH if max_length is None else max_length
    if not isinstance(variables, dict):
        return []  # execution reports what is wrong with them
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables:
            continue
        declared = type_from_ast(schema, definition.type)
        if declared is None or not is_input_type(declared):
            continue  # validation reported it
        # (input type, raw value, where the value is): types as graphql-core's own are typed.
        stack: list[tuple[Any, Any, str]] = [(declared, variables[name], f"${name}")]
        while stack:
            input_type, value, path = stack.pop()
            input_type = get_nullable_type(input_type)
            if isinstance(input_type, GraphQLList):
                item_type = input_type.of_type
                if not isinstance(value, list):
                    # A single value stands for a list of one.
                    stack.append((item_type, value, path))
                elif len(value) > max_length:
                    return [
                        GraphQLError(
                            f"The list at {path} holds {len(value)} entries, more than the "
                            f"limit of {max_length}.",
                            definition,
                        )
                    ]
                elif _may_hold_lists(item_type):
                    stack.extend(
                        (item_type, item, f"{path}[{index}]") for index, item in enumerate(value)
                    )
            elif isinstance(input_type, GraphQLInputObjectType) and isinstance(value, dict):
                stack.extend(
                    (field.type, value[field_name], f"{path}.{field_name}")
                    for field_name, field in input_type.fields.items()
                    if field_name in value
                )
    return []


def _may_hold_lists(input_type: Any) -> bool:
    nullable = get_nullable_type(input_type)
    return isinstance(nullable, (GraphQLList, GraphQLInputObjectType))


def _label(node: ExecutableDefinitionNode) -> str:
    if isinstance(node, FragmentDefinitionNode):
        return f"Fragment {node.name.value!r}"
    return f"Operation {node.name.value!r}" if node.name else "The operation"


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    """The names of the fragments spread directly in a selection set, at any depth."""
    names: list[str] = []
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif selection.selection_set is not None:  # type: ignore[attr-defined]
                stack.append(selection.selection_set)  # type: ignore[attr-defined]
    return names


def _on_cycles(fragments: dict[str, FragmentDefinitionNode]) -> set[str]:
    """Fragments whose removal leaves no cycle of spreads: each cycle's first-entered one.

    A depth-first walk without recursion: a spread back to a fragment still on the walk's
    path closes a cycle, and every cycle has one such spread, whose target is marked.
    """
    spreads = {name: _spreads(definition.selection_set) for name, definition in fragments.items()}
    marked: set[str] = set()
    finished: set[str] = set()
    for root in fragments:
        if root in finished:
            continue
        on_path = {root}
        path = [(root, iter(spreads[root]))]
        while path:
            name, remaining = path[-1]
            for target in remaining:
                if target in on_path:
                    marked.add(target)
                elif target in spreads and target not in finished:
                    on_path.add(target)
                    path.append((target, iter(spreads[target])))
                    break
            else:
                path.pop()
                on_path.discard(name)
                finished.add(name)
    return marked


def _reached(
    operations: list[OperationDefinitionNode],
    fragments: dict[str, FragmentDefinitionNode],
    cyclic: set[str],
) -> set[int]:
    """``id()`` of the fragment definitions the operations' walks expand."""
    reached: set[int] = set()
    stack = [operation.selection_set for operation in operations]
    while stack:
        for name in _spreads(stack.pop()):
            fragment = fragments.get(name)
            if fragment is not None and name not in cyclic and id(fragment) not in reached:
                reached.add(id(fragment))
                stack.append(fragment.selection_set)
    return reached


@cache
def limits_rule(limits: DocumentLimits) -> type[ASTValidationRule]:
    """A rule reporting ``limit_errors()`` that stops the other rules of the same validation.

    For code that can only hand a rule list to ``graphql.validate()``: listed first, it refuses
    an over-limit document before any other rule has visited it. ``validate_document()`` does
    not need it.
    """

    class DocumentLimitsRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            errors = limit_errors(node, limits)
            if errors:
                *reported, last = errors
                for error in reported:
                    self.report_error(error)
                # validate() ends the whole visit on this error and returns it with the others.
                raise ValidationAbortedError(last.message, last.nodes)

    return DocumentLimitsRule


def validation_rules(
    *,
    max_depth: int | None = None,
    max_fields: int | None = None,
    max_comparisons: int | None = None,
    max_list_length: int | None = None,
) -> tuple[type[ASTValidationRule], ...]:
    """The limits' rule, then GraphQL's specified rules (limits default to the settings).

    Pass the result as the whole rule list: graphql-core's ``validate()`` (and graphene-django's
    ``validation_rules``) replace the specified rules with the list they are given. Prefer
    ``validate_document()`` where you call validation yourself.
    """
    settings = DocumentLimits.from_settings()
    limits = DocumentLimits(
        _positive("max_depth", settings.max_depth if max_depth is None else max_depth),
        _positive("max_fields", settings.max_fields if max_fields is None else max_fields),
        _positive(
            "max_comparisons",
            settings.max_comparisons if max_comparisons is None else max_comparisons,
        ),
        _positive(
            "max_list_length",
            settings.max_list_length if max_list_length is None else max_list_length,
        ),
    )
    return (limits_rule(limits), *specified_rules)


def _positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value
