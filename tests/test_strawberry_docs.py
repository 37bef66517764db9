"""What docs/howto/strawberry.md says about composing the package's types into a host's schema.

Its snippet runs in tests/test_docs_snippets.py.
"""

from __future__ import annotations

import datetime

import pytest

strawberry = pytest.importorskip("strawberry")

import user_messages.strawberry  # noqa: E402


def test_a_schema_with_datetime_fields_of_its_own_maps_them_onto_the_package_s_scalar() -> None:
    @strawberry.type
    class Query(user_messages.strawberry.Query):
        @strawberry.field
        def now(self) -> datetime.datetime:
            return datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

    with pytest.raises(Exception, match="DateTime"):
        strawberry.Schema(query=Query)
    schema = strawberry.Schema(
        query=Query, scalar_overrides={datetime.datetime: user_messages.strawberry.DateTime}
    )

    assert schema.execute_sync("{ now }").data == {"now": "2030-01-02T03:04:05+00:00"}
