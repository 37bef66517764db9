"""Property-based: whatever a caller passes, the API writes all of it or nothing, and says why.

Runs on every backend (NUL characters and huge integers are where they differ).
"""

from __future__ import annotations

import datetime
import math

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from user_messages import api
from user_messages.models import Message

pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
anything = (
    st.none()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=5)
    | st.just(datetime.date(2024, 1, 1))
    | st.lists(st.integers(), max_size=2)
)


def _sizes() -> dict[str, int]:
    return {"messages": Message.objects.count()}


@SETTINGS
@given(
    level=st.integers(-(2**31), 2**31 - 1) | anything,
    message=st.text(max_size=300) | anything,
    extra_tags=st.text(max_size=20) | anything,
    meta=st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4) | anything,
    deliver_once=st.booleans() | anything,
)
def test_a_send_stores_exactly_what_was_given_or_refuses_it(
    user, level, message, extra_tags, meta, deliver_once
):
    before = Message.objects.count()
    try:
        sent = api.add_message(
            user, level, message, extra_tags, deliver_once=deliver_once, meta=meta
        )
    except (TypeError, ValueError):
        assert Message.objects.count() == before
        return

    stored = Message.objects.get(pk=sent.pk)
    assert (stored.level, stored.message, stored.extra_tags) == (level, message, extra_tags)
    assert stored.deliver_once is deliver_once
    assert stored.meta == (meta or {}) or _same_json(stored.meta, meta)


def _same_json(stored, given):
    # JSON turns tuples into lists and non-string keys into strings; floats may round-trip
    # through the database's own representation.
    if isinstance(given, dict):
        return stored.keys() == {str(k) for k in given} and all(
            _same_json(stored[str(k)], v) for k, v in given.items()
        )
    if isinstance(given, (list, tuple)):
        return len(stored) == len(given) and all(map(_same_json, stored, given))
    if isinstance(given, float):
        return math.isclose(stored, given, rel_tol=1e-12, abs_tol=1e-300)
    return stored == given


@SETTINGS
@given(
    recipients=st.lists(
        st.integers(-(2**70), 2**70) | st.text(max_size=12) | st.sampled_from(["own", "other"]),
        max_size=6,
    )
)
def test_a_broadcast_with_any_bad_recipient_writes_nothing(user, other_user, recipients):
    resolved = [
        {"own": user.pk, "other": other_user}.get(r, r) if isinstance(r, str) else r
        for r in recipients
    ]
    before = Message.objects.count()
    try:
        count = api.info(resolved, "hello")
    except (TypeError, ValueError):
        assert Message.objects.count() == before
        return

    assert Message.objects.count() == before + count
    assert count == len({r.pk if hasattr(r, "pk") else int(r) for r in resolved})


@SETTINGS
@given(ids=st.lists(st.integers(-(2**70), 2**70) | st.text(max_size=12), max_size=6))
def test_acknowledging_any_ids_touches_only_the_callers_messages(user, other_user, ids):
    theirs = api.info(other_user, "theirs", deliver_once=False)
    api.info(user, "mine", deliver_once=False)
    pending_before = set(Message.objects.for_user(user).pending().values_list("pk", flat=True))
    theirs_before = Message.objects.for_user(other_user).pending().count()
    try:
        changed = api.acknowledge(user, [*ids, theirs.pk])
    except (TypeError, ValueError):
        changed = 0
    pending_after = set(Message.objects.for_user(user).pending().values_list("pk", flat=True))

    assert Message.objects.for_user(other_user).pending().count() == theirs_before
    assert pending_after <= pending_before
    assert changed == len(pending_before - pending_after)


def test_backend_under_test(db):
    # Makes the backend visible in the test output of each CI run.
    assert connection.vendor in {"sqlite", "postgresql", "mysql"}
