"""graphene-django's GraphQLView with the limits every public GraphQL endpoint needs.

Use it instead of ``graphene_django.views.GraphQLView`` (same arguments)::

    from user_messages.views import GraphQLView

    urlpatterns = [path("graphql", GraphQLView.as_view())]

Only projects that install the ``graphql`` extra import this module.
"""

# graphene-django ships no type information, so its view is Any to mypy.
# mypy: disallow-subclassing-any=False

from __future__ import annotations

import inspect
from collections.abc import Collection
from typing import Any

from django.http import HttpRequest, HttpResponseBadRequest
from graphene_django.views import GraphQLView as GrapheneGraphQLView
from graphene_django.views import HttpError
from graphql import ExecutionResult, GraphQLError, parse, specified_rules
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ASTValidationRule, ValidationContext, ValidationRule

from user_messages.conf import conf

__all__ = ["GraphQLView", "max_depth_rule", "max_fields_rule", "validation_rules"]

# graphql-core 3.2.4+ stops parsing after a number of tokens; newer releases split the limit
# into lexical tokens and comments. Use what the installed release offers.
_PARSE_OPTIONS = inspect.signature(parse).parameters
_TOKEN_LIMIT = "max_lexical_tokens" if "max_lexical_tokens" in _PARSE_OPTIONS else "max_tokens"


def max_fields_rule(limit: int) -> type[ASTValidationRule]:
    """A validation rule refusing documents that select more than ``limit`` fields."""

    class MaxFieldsRule(ValidationRule):
        """Every field node counts once, so 1,000 aliases of one field count 1,000."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.fields = 0

        def enter_field(self, node: FieldNode, *args: Any) -> None:
            self.fields += 1
            if self.fields == limit + 1:  # report once, not once per extra field
                self.report_error(
                    GraphQLError(f"The query selects more than {limit} fields.", node)
                )

    return MaxFieldsRule


def max_depth_rule(limit: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations that nest fields more than ``limit`` deep."""

    class MaxDepthRule(ValidationRule):
        """Fragments count where they are spread; cycles and repeats are walked once.

        graphene's ``depth_limit_validator`` recurses through fragment cycles until Python's
        stack runs out (a server error), so this rule walks the document with a stack of its
        own and expands each fragment at most once per depth.
        """

        def enter_document(self, node: DocumentNode, *args: Any) -> None:
            fragments = {
                definition.name.value: definition
                for definition in node.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }
            for definition in node.definitions:
                if (
                    isinstance(definition, OperationDefinitionNode)
                    and _deepest(definition.selection_set, fragments, limit) > limit
                ):
                    self.report_error(
                        GraphQLError(
                            f"The query nests fields more than {limit} levels deep.", definition
                        )
                    )

    return MaxDepthRule


def _deepest(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], limit: int
) -> int:
    """How deep the fields under ``selections`` nest, counting at most to ``limit + 1``."""
    deepest = 0
    expanded: set[tuple[str, int]] = set()
    stack = [(selections, 0)]
    while stack:
        selection_set, depth = stack.pop()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                deepest = max(deepest, depth + 1)
                if selection.selection_set and depth + 1 <= limit:
                    stack.append((selection.selection_set, depth + 1))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, depth))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and (name, depth) not in expanded:
                    expanded.add((name, depth))
                    stack.append((fragments[name].selection_set, depth))
    return deepest


def validation_rules(
    *, max_depth: int | None = None, max_fields: int | None = None
) -> list[type[ASTValidationRule]]:
    """GraphQL's own rules plus a depth and a field-count limit (defaults from USER_MESSAGES).

    Pass the result to graphene-django's ``GraphQLView(validation_rules=...)`` if you keep its
    view: a list given there *replaces* the specification's rules, so they are included here.
    """
    return [
        *specified_rules,
        max_depth_rule(max_depth or conf.MAX_QUERY_DEPTH),
        max_fields_rule(max_fields or conf.MAX_QUERY_FIELDS),
    ]


class GraphQLView(GrapheneGraphQLView):
    """graphene-django's view, plus: a malformed body is a 400, a document's size is bounded.

    - A JSON body nested too deeply for Python's parser answers 400 instead of a server error.
    - A query of more than ``USER_MESSAGES["MAX_QUERY_TOKENS"]`` tokens is refused before it is
      parsed any further, and ``validation_rules()`` bounds its depth and fields, unless the
      view is given ``validation_rules`` of its own.
    - CSRF protection stays as it is: do not wrap the view in ``csrf_exempt``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._own_rules: Collection[type[ASTValidationRule]] | None = self.validation_rules

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Serve the request with limits read from the settings now (override_settings works)."""
        self.validation_rules = self._own_rules or validation_rules()
        return super().dispatch(request, *args, **kwargs)

    def parse_body(self, request: HttpRequest) -> Any:
        """The request's GraphQL parameters; a body nested too deeply is a 400."""
        try:
            return super().parse_body(request)
        except RecursionError:
            # graphene-django turns ValueError and TypeError into a 400 but not this one.
            raise HttpError(
                HttpResponseBadRequest("The request body is nested too deeply.")
            ) from None

    def execute_graphql_request(
        self, request: HttpRequest, data: Any, query: str | None, *args: Any, **kwargs: Any
    ) -> ExecutionResult | None:
        """Refuse a document of too many tokens before graphene-django parses and runs it."""
        if query:
            try:
                limit: dict[str, Any] = {_TOKEN_LIMIT: conf.MAX_QUERY_TOKENS}
                parse(query, no_location=True, **limit)
            except GraphQLError as error:
                return ExecutionResult(data=None, errors=[error])
        result: ExecutionResult | None = super().execute_graphql_request(
            request, data, query, *args, **kwargs
        )
        return result
