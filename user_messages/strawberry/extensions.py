"""The schema extension that bounds what a document can cost on Strawberry.

Strawberry's own limiters do not fit the rule of issue 21: ``QueryDepthLimiter`` and
``MaxAliasesLimiter`` are validation rules that run in the same pass as GraphQL's specified
rules, so a document far over a limit still pays for all of them; ``MaxTokensLimiter`` bounds
tokens but not characters. ``QueryLimits`` parses with the package's length and token limits and
validates with ``user_messages.graphql_limits``: its linear walk first, the specified rules only
for a document within the limits, each distinct document once per process; then, per request,
the lengths of the lists passed as variables, before execution coerces them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from graphql.validation import specified_rules
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from user_messages.graphql_http import (
    NESTED_TOO_DEEPLY,
    Unparsable,
    check_document,
    is_client_mistake,
    select_operation,
)
from user_messages.graphql_limits import variable_list_errors

__all__ = ["QueryLimits", "quiet_client_mistakes"]

# Set while the package answers an operation: Strawberry then logs only the server's errors.
_quiet = contextvars.ContextVar("user_messages_quiet_client_mistakes", default=False)


class _ServerErrorsOnly(logging.Filter):
    """Drop Strawberry's ERROR log of a client's mistake while the package answers it.

    Strawberry logs every error of a response with its traceback; a signed-out read or a
    document that does not validate is the client's to fix, and the answer already says so.
    An unexpected exception in a resolver still logs at ERROR, with its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        return not (_quiet.get() and isinstance(error, GraphQLError) and is_client_mistake(error))


logging.getLogger("strawberry.execution").addFilter(_ServerErrorsOnly())


@contextlib.contextmanager
def quiet_client_mistakes() -> Iterator[None]:
    """Within this block, Strawberry logs no client's mistake (see ``is_client_mistake``)."""
    # Not a token reset: a subscription's operation can end in another context than it began.
    previous = _quiet.get()
    _quiet.set(True)
    try:
        yield
    finally:
        _quiet.set(previous)


# Strawberry runs these after the specified rules and the rules extensions add.
_STRAWBERRY_RULES = (MaybeNullValidationRule, OneOfInputValidationRule)
_SPECIFIED = frozenset(specified_rules)
_ERRORS = "_user_messages_validation_errors"


class QueryLimits(SchemaExtension):
    """Parse within USER_MESSAGES' query limits; check the document's limits before validating.

    Pass the class (not an instance) in ``strawberry.Schema(extensions=[...])``. Rules that
    other extensions add (``AddValidationRules``) still run, after the specified ones; the
    outcome is cached per document, so they must depend only on the schema and the document.
    """

    def on_operation(self) -> Iterator[None]:
        # Covers operations that reach the schema by other ways than the package's view (the
        # WebSocket); the view covers also what Strawberry logs after the operation ends.
        with quiet_client_mistakes():
            yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            rules = tuple(
                dict.fromkeys(
                    (
                        *(rule for rule in context.validation_rules if rule not in _SPECIFIED),
                        *_STRAWBERRY_RULES,
                    )
                )
            )
            try:
                checked = check_document(context.schema._schema, rules, None, context.query)
            except Unparsable as unparsable:
                raise _as_graphql_error(unparsable.error) from None
            except RecursionError:
                # Older graphql-core releases let the parser and validation overflow the stack.
                raise GraphQLError(NESTED_TOO_DEEPLY) from None
            if not checked.errors:
                # Strawberry would run the first of several operations when none is named;
                # GraphQL (and graphene) refuse. Validation errors come first, as in GraphQL.
                # Strawberry keeps the name the request gave only in a private attribute.
                provided = getattr(context, "_provided_operation_name", None)
                select_operation(checked.document, provided)
            context.graphql_document = checked.document
            for error in checked.errors:
                # Strawberry logs each error it answers with; see _PrintedBriefly.
                if type(error) is GraphQLError:
                    error.__class__ = _PrintedBriefly
            setattr(context, _ERRORS, list(checked.errors))
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        errors: list[GraphQLError] | None = getattr(context, _ERRORS, None)
        if errors is not None:
            if not errors and context.graphql_document is not None:
                # Per request, before execution coerces the variables.
                errors = variable_list_errors(
                    context.schema._schema,
                    context.graphql_document,
                    context.operation_name,
                    context.variables,
                )
            # Validated already (or cached): Strawberry skips its own validation when errors,
            # even none, are set.
            context.pre_execution_errors = errors
        yield


class _PrintedBriefly(GraphQLError):
    """A validation error whose ``str()`` is its message.

    Strawberry logs every error of a response, and graphql-core's ``str()`` quotes the source
    around each location, finding its line by walking the text: a document with many errors
    far down would cost a walk per error in the log alone. The response's locations stay.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return self.message


def _as_graphql_error(error: Any) -> GraphQLError:
    return error if isinstance(error, GraphQLError) else GraphQLError(str(error))
