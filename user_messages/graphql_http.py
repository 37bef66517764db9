"""What both GraphQL views (graphene's and Strawberry's) do with a request before executing it.

A declared body over the upload limit is refused unread, and each distinct document is parsed
and validated once per process (``check_document``). Imports neither graphene nor Strawberry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from graphql import DocumentNode, GraphQLError, GraphQLSchema, validate_schema
from graphql.validation import ASTValidationRule

from user_messages.conf import conf
from user_messages.graphql_limits import DocumentLimits, parse_document, validate_document

__all__ = [
    "DOCUMENT_CACHE_SIZE",
    "MAX_CACHED_QUERY_LENGTH",
    "NESTED_TOO_DEEPLY",
    "CheckedDocument",
    "Unparsable",
    "check_document",
    "log_security_error",
    "refuse_declared_excess",
]

NESTED_TOO_DEEPLY = "The request is nested too deeply."

# Distinct documents kept parsed and validated, per process, least recently used out first.
# A project's clients send a handful to a few dozen distinct operations, and a miss costs only
# what graphene-django's view pays on every request. One entry keeps its tokens (for error
# locations): at the default MAX_QUERY_TOKENS it holds at most about 1.1 MB (2,000 one-letter
# fields, measured with tracemalloc), so a stream of distinct documents pins about 35 MB.
DOCUMENT_CACHE_SIZE = 32
# Longer documents are parsed and validated on every request: the cap bounds an entry when a
# project raises MAX_QUERY_LENGTH and MAX_QUERY_TOKENS (10,000 dense characters hold about
# 2.8 MB). GraphiQL's introspection query is under 2,000 characters, the package's operations
# under 500.
MAX_CACHED_QUERY_LENGTH = 10_000


def check_document(
    schema: GraphQLSchema,
    rules: tuple[type[ASTValidationRule], ...],
    max_errors: int | None,
    query: Any,
) -> CheckedDocument:
    """``query`` parsed within its limits and validated: the limits' linear walk first.

    Cached per process for documents of up to ``MAX_CACHED_QUERY_LENGTH`` characters, keyed
    by everything the outcome depends on. Parse errors raise ``Unparsable``.
    """
    # Read per request, and part of the key, so a settings change never serves a stale outcome.
    limits = DocumentLimits.from_settings()
    parsing = (conf.MAX_QUERY_LENGTH, conf.MAX_QUERY_TOKENS)
    if isinstance(query, str) and len(query) <= MAX_CACHED_QUERY_LENGTH:
        return _cached_check(schema, rules, max_errors, parsing, limits, query)
    return _check(schema, rules, max_errors, parsing, limits, query)


@dataclass(frozen=True)
class CheckedDocument:
    """A parsed document and what validating it against one schema and rule set reported."""

    document: DocumentNode
    errors: tuple[GraphQLError, ...]


class Unparsable(Exception):
    """What the parser raised for a query, to answer as the request's errors."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def _check(
    schema: GraphQLSchema,
    rules: tuple[type[ASTValidationRule], ...],
    max_errors: int | None,
    parsing: tuple[int, int],
    limits: DocumentLimits,
    query: Any,
) -> CheckedDocument:
    """Parse ``query`` within its length and token limits, and validate it.

    Parse errors raise ``Unparsable``.
    """
    max_length, max_tokens = parsing
    try:
        document = parse_document(query, max_length=max_length, max_tokens=max_tokens)
    except RecursionError:
        raise
    except Exception as error:
        # Raised, so the cache keeps no parse errors: the parser stops at the first bad token
        # and no validation follows, so refusing one again is cheap, and clients repeat
        # documents that parse; junk would only push those out.
        raise Unparsable(error) from None
    if validate_schema(schema):
        # validate() refuses an invalid schema; the view answers with the schema's errors.
        return CheckedDocument(document, ())
    errors = validate_document(schema, document, rules, max_errors=max_errors, limits=limits)
    return CheckedDocument(document, tuple(errors))


# The key holds everything the outcome depends on, settings included, so no setting change
# can serve a stale outcome. Sharing one DocumentNode between threads is safe: graphql-core
# 3.2's execute() and get_operation_ast() only read the AST (execute keys its own caches by
# id(), names and paths) and never ask for a node's hash, a node's one lazy write. lru_cache
# is thread-safe; two threads missing the same document at once both check it, one is kept.
_cached_check = lru_cache(maxsize=DOCUMENT_CACHE_SIZE)(_check)


def refuse_declared_excess(request: HttpRequest) -> None:
    """Raise RequestDataTooBig for a body whose Content-Length is over the upload limit.

    Django counts only non-file parts of a multipart body against DATA_UPLOAD_MAX_MEMORY_SIZE,
    and reads (spools) file parts whatever their size; the API takes no uploads, so any body
    declared larger than the limit is refused before a byte of it is read.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # Django's own parsers refuse a malformed length
    if limit is not None and declared > limit:
        raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


def log_security_error(request: HttpRequest, error: Exception, *, status: int) -> None:
    # What Django's handler would log had the exception reached it, less the request: with it,
    # Django 4.2's AdminEmailHandler reads request.POST for its report and raises again.
    logging.getLogger(f"django.security.{type(error).__name__}").error(
        "%s (%s %s)",
        error,
        request.method,
        request.get_full_path(),
        exc_info=error,
        extra={"status_code": status},
    )
