"""The package's settings: one ``USER_MESSAGES`` dict, read again whenever a setting changes."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings as django_settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Permission a user needs to send messages to others through the GraphQL API.
    "SEND_PERMISSION": "user_messages.add_message",
    # Limits on what the GraphQL API accepts from clients. The Python API trusts its caller.
    "MAX_MESSAGE_LENGTH": 2000,
    "MAX_EXTRA_TAGS_LENGTH": 200,
    "MAX_META_BYTES": 4096,
    "MAX_RECIPIENTS": 100,
    "MAX_ACKNOWLEDGE_IDS": 1000,
    # Action buttons one message may carry (api.info(..., actions=[...]), sendMessage).
    "MAX_ACTIONS": 3,
    # Stored messages one read delivers at most, oldest first; the rest wait for the next read.
    # Bounds a read's memory and SQL size however many messages pile up for a user.
    "MAX_MESSAGES_PER_READ": 100,
    # Messages one page of the history holds at most (myMessageHistory's first).
    "MAX_HISTORY_PAGE": 100,
    # Limits on one GraphQL operation, applied by user_messages.views.GraphQLView (and by the
    # rules of user_messages.graphql_limits): tokens the parser reads before it gives up, how
    # deep fields nest, and how many fields it selects (each alias and fragment spread counts).
    # GraphiQL's introspection query is 183 tokens, 15 deep and 229 fields; the package's own
    # operations at most 65 tokens. Parsing and validating cost about 10-30 µs a token in pure
    # Python whatever the shape, so the token limit is what bounds a document's cost: at 500, the
    # worst document we could build costs about what GraphiQL's introspection does (bench).
    # Characters of a GraphQL document, checked before parsing: the parser reads each one in
    # Python, and a string, a comment or a run of whitespace of any length is one token or none.
    "MAX_QUERY_LENGTH": 20_000,
    "MAX_QUERY_TOKENS": 500,
    "MAX_QUERY_DEPTH": 15,
    "MAX_QUERY_FIELDS": 500,
    # Pairs of fields answering the same response path that GraphQL's validation compares
    # (OverlappingFieldsCanBeMerged is quadratic in them), weighted by what each pair compares.
    "MAX_QUERY_COMPARISONS": 1000,
    # Entries of any one list in an operation's arguments, written in the document or passed
    # as a variable, checked before variables are coerced and before any resolver runs. At
    # least MAX_ACKNOWLEDGE_IDS and MAX_RECIPIENTS (system check user_messages.E009).
    "MAX_LIST_LENGTH": 1000,
    # Distinct myMessageHistory reads one request may make (aliases with the same arguments,
    # once normalised, share one read): each is one query of up to MAX_HISTORY_PAGE + 1 rows.
    "MAX_HISTORY_READS": 5,
    # Alias of a cache in CACHES that lets a page view of a user with nothing pending skip the
    # database entirely. None: always ask the database.
    "CACHE": None,
    # Live updates (the realtime extra): subscriptions one WebSocket may run at once, and the
    # seconds a client has to send connection_init before the socket is closed (4408).
    "WEBSOCKET_MAX_SUBSCRIPTIONS": 10,
    "WEBSOCKET_INIT_TIMEOUT": 10,
    # Live updates: a socket checks its session again at least this often (seconds, jittered),
    # for sessions that end without a signal (expired, deleted rows). None: never.
    "WEBSOCKET_SESSION_RECHECK": 300,
    # Live updates, seen from a sender: seconds one channel-layer send may take before it counts
    # as lost (Redis answers in about a millisecond; a hung one would hold the request for
    # redis-py's socket_timeout), and seconds the process stops sending after a failure.
    "LIVE_SEND_TIMEOUT": 0.5,
    "LIVE_SEND_PAUSE": 2,
    # The categories messages may be sent in: {"billing": {"label": _("Billing"), ...}}. See
    # user_messages.categories for the keys of each declaration.
    "CATEGORIES": {},
}


class Settings:
    """Typed access to ``settings.USER_MESSAGES``, read again after any setting changes."""

    def __init__(self) -> None:
        self._configured: dict[str, Any] | None = None

    def _get(self, name: str) -> Any:
        # Every page view reads two of these; a missing USER_MESSAGES costs Django's settings
        # an exception per lookup, so the dict is kept until setting_changed says otherwise.
        configured = self._configured
        if configured is None:
            configured = self._configured = getattr(django_settings, "USER_MESSAGES", {})
        return configured.get(name, DEFAULTS[name])

    def forget(self, **kwargs: Any) -> None:
        """Receiver of ``setting_changed``: read ``USER_MESSAGES`` afresh on next use."""
        self._configured = None

    @property
    def SEND_PERMISSION(self) -> str:
        return cast("str", self._get("SEND_PERMISSION"))

    @property
    def MAX_MESSAGE_LENGTH(self) -> int:
        return cast("int", self._get("MAX_MESSAGE_LENGTH"))

    @property
    def MAX_EXTRA_TAGS_LENGTH(self) -> int:
        return cast("int", self._get("MAX_EXTRA_TAGS_LENGTH"))

    @property
    def MAX_META_BYTES(self) -> int:
        return cast("int", self._get("MAX_META_BYTES"))

    @property
    def MAX_RECIPIENTS(self) -> int:
        return cast("int", self._get("MAX_RECIPIENTS"))

    @property
    def MAX_ACKNOWLEDGE_IDS(self) -> int:
        return cast("int", self._get("MAX_ACKNOWLEDGE_IDS"))

    @property
    def MAX_ACTIONS(self) -> int:
        return cast("int", self._get("MAX_ACTIONS"))

    @property
    def MAX_MESSAGES_PER_READ(self) -> int:
        return cast("int", self._get("MAX_MESSAGES_PER_READ"))

    @property
    def MAX_HISTORY_PAGE(self) -> int:
        return cast("int", self._get("MAX_HISTORY_PAGE"))

    @property
    def MAX_QUERY_TOKENS(self) -> int:
        return cast("int", self._get("MAX_QUERY_TOKENS"))

    @property
    def MAX_QUERY_DEPTH(self) -> int:
        return cast("int", self._get("MAX_QUERY_DEPTH"))

    @property
    def MAX_QUERY_LENGTH(self) -> int:
        return cast("int", self._get("MAX_QUERY_LENGTH"))

    @property
    def MAX_QUERY_FIELDS(self) -> int:
        return cast("int", self._get("MAX_QUERY_FIELDS"))

    @property
    def MAX_QUERY_COMPARISONS(self) -> int:
        return cast("int", self._get("MAX_QUERY_COMPARISONS"))

    @property
    def MAX_LIST_LENGTH(self) -> int:
        return cast("int", self._get("MAX_LIST_LENGTH"))

    @property
    def MAX_HISTORY_READS(self) -> int:
        return cast("int", self._get("MAX_HISTORY_READS"))

    @property
    def CACHE(self) -> str | None:
        return cast("str | None", self._get("CACHE"))

    @property
    def WEBSOCKET_MAX_SUBSCRIPTIONS(self) -> int:
        return cast("int", self._get("WEBSOCKET_MAX_SUBSCRIPTIONS"))

    @property
    def WEBSOCKET_INIT_TIMEOUT(self) -> int:
        return cast("int", self._get("WEBSOCKET_INIT_TIMEOUT"))

    @property
    def WEBSOCKET_SESSION_RECHECK(self) -> float | None:
        return cast("float | None", self._get("WEBSOCKET_SESSION_RECHECK"))

    @property
    def LIVE_SEND_TIMEOUT(self) -> float:
        return cast("float", self._get("LIVE_SEND_TIMEOUT"))

    @property
    def LIVE_SEND_PAUSE(self) -> float:
        return cast("float", self._get("LIVE_SEND_PAUSE"))

    @property
    def CATEGORIES(self) -> dict[str, dict[str, Any]]:
        return cast("dict[str, dict[str, Any]]", self._get("CATEGORIES"))


conf = Settings()
setting_changed.connect(conf.forget, dispatch_uid="user_messages_settings")
