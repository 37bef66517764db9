"""Validation rules that bound what one GraphQL operation may ask for: depth and fields.

The package bounds the work of its own fields; these rules bound the generic costs it cannot
see: how deep an operation nests and how many fields it selects (each alias and each fragment
spread counts again). The token limit is the parser's own (``graphql.parse(max_tokens=...)``),
applied by ``user_messages.views.GraphQLView``.

graphene ships ``depth_limit_validator``, but it raises ``KeyError`` on an unknown fragment and
recurses forever on a fragment cycle, both before the specified rules can report them, so a
hostile document gets a server error. These rules walk the document without recursion, ignore
what the specified rules report (unknown fragments, cycles), and cost time linear in its size.

Only projects that install the ``graphql`` extra import this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from graphql import GraphQLError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ASTValidationRule, ValidationContext, ValidationRule, specified_rules

from user_messages.conf import conf

__all__ = ["max_depth_rule", "max_fields_rule", "validation_rules"]


@dataclass
class _Costs:
    """How deep a selection set nests and how many fields it selects, spreads included."""

    depth: int = 0
    fields: int = 0
    # Fragment spreads with the depth (fields around them) they are spread at.
    spreads: list[tuple[str, int]] = field(default_factory=list)


def _own_costs(selection_set: SelectionSetNode) -> _Costs:
    """The costs of a selection set without its fragment spreads, which it lists."""
    costs = _Costs()
    stack = [(selection_set, 0)]
    while stack:
        current, depth = stack.pop()
        for selection in current.selections:
            if isinstance(selection, FragmentSpreadNode):
                costs.spreads.append((selection.name.value, depth))
                continue
            nested_depth = depth
            if isinstance(selection, FieldNode):
                costs.fields += 1
                nested_depth = depth + 1
                costs.depth = max(costs.depth, nested_depth)
            # Inline fragments select at the depth of their parent.
            nested = selection.selection_set  # type: ignore[attr-defined]
            if nested is not None:
                stack.append((nested, nested_depth))
    return costs


def _fragment_costs(document: DocumentNode, cap: int) -> dict[str, tuple[int, int]]:
    """Each fragment's (depth, fields) with its spreads expanded, fields capped at ``cap``.

    Walks the spreads with an explicit stack, so a long chain of fragments cannot exhaust
    Python's recursion limit. A spread that closes a cycle or names no fragment adds nothing:
    the specified rules report both. The cap keeps the numbers small when fragments multiply
    (a fragment spreading another ten times, ten levels deep).
    """
    own = {
        definition.name.value: _own_costs(definition.selection_set)
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    done: dict[str, tuple[int, int]] = {}
    for root in own:
        if root in done:
            continue
        path: list[tuple[str, Iterator[tuple[str, int]]]] = [(root, iter(own[root].spreads))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread, _depth in spreads:
                if spread in own and spread not in done and spread not in on_path:
                    path.append((spread, iter(own[spread].spreads)))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                done[name] = _expanded(own[name], done, cap)
    return done


def _expanded(costs: _Costs, fragments: dict[str, tuple[int, int]], cap: int) -> tuple[int, int]:
    """(depth, fields) of a selection set whose spread fragments are already computed."""
    depth, fields = costs.depth, costs.fields
    for name, spread_depth in costs.spreads:
        fragment_depth, fragment_fields = fragments.get(name, (0, 0))
        depth = max(depth, spread_depth + fragment_depth)
        fields = min(fields + fragment_fields, cap)
    return depth, min(fields, cap)


def _operation_costs(document: DocumentNode, *, cap: int) -> dict[int, tuple[int, int]]:
    """(depth, fields) of each operation, by ``id()``; fields counted up to ``cap`` + 1.

    Keyed by identity: AST nodes hash their whole subtree, recursively.
    """
    fragments = _fragment_costs(document, cap + 1)
    return {
        id(definition): _expanded(_own_costs(definition.selection_set), fragments, cap + 1)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    }


def _operation_label(node: OperationDefinitionNode) -> str:
    return f"Operation {node.name.value!r}" if node.name else "The operation"


class _CostRule(ValidationRule):
    """Computes the document's costs once and checks each operation against one limit."""

    limit: int

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.costs = _operation_costs(context.document, cap=self.limit)

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        depth, fields = self.costs[id(node)]
        self.check(node, depth=depth, fields=fields)

    def check(self, node: OperationDefinitionNode, *, depth: int, fields: int) -> None:
        raise NotImplementedError


def _positive(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


@cache
def max_depth_rule(max_depth: int) -> type[ASTValidationRule]:
    """A rule refusing operations that nest fields deeper than ``max_depth``, fragments included."""
    limit = _positive("max_depth", max_depth)

    class MaxDepthRule(_CostRule):
        def check(self, node: OperationDefinitionNode, *, depth: int, fields: int) -> None:
            if depth > limit:
                self.report_error(
                    GraphQLError(
                        f"{_operation_label(node)} nests fields {depth} deep, "
                        f"more than the limit of {limit}.",
                        node,
                    )
                )

    MaxDepthRule.limit = limit
    return MaxDepthRule


@cache
def max_fields_rule(max_fields: int) -> type[ASTValidationRule]:
    """A rule refusing operations that select more than ``max_fields`` fields.

    Every field counts, at every depth: each alias, each fragment spread again (so fragments
    cannot multiply the work unseen), and introspection fields.
    """
    limit = _positive("max_fields", max_fields)

    class MaxFieldsRule(_CostRule):
        def check(self, node: OperationDefinitionNode, *, depth: int, fields: int) -> None:
            if fields > limit:
                self.report_error(
                    GraphQLError(
                        f"{_operation_label(node)} selects more than {limit} fields; "
                        "each alias and each fragment spread counts.",
                        node,
                    )
                )

    MaxFieldsRule.limit = limit
    return MaxFieldsRule


def validation_rules(
    *, max_depth: int | None = None, max_fields: int | None = None
) -> tuple[type[ASTValidationRule], ...]:
    """GraphQL's specified rules plus the depth and fields limits (defaults: the settings).

    Pass the result as the whole rule list: graphql-core's ``validate()`` (and graphene-django's
    ``validation_rules``) replace the specified rules with the list they are given.
    """
    return (
        *specified_rules,
        max_depth_rule(conf.MAX_QUERY_DEPTH if max_depth is None else max_depth),
        max_fields_rule(conf.MAX_QUERY_FIELDS if max_fields is None else max_fields),
    )
