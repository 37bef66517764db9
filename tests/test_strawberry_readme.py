"""The README's "Using Strawberry" snippet composes a schema that serves the contract."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from graphql import print_schema

strawberry = pytest.importorskip("strawberry")

import user_messages.strawberry  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def strawberry_snippet() -> str:
    """The README's Python block for a Strawberry project's schema and URLs."""
    blocks = re.findall(
        r"```python\n(# myproject/schema.py\nimport strawberry\n.*?)```",
        (REPO / "README.md").read_text(),
        re.S,
    )
    assert len(blocks) == 1
    return blocks[0]


def test_the_readme_schema_prints_the_contract_s_query_and_mutation() -> None:
    namespace: dict[str, object] = {"path": lambda *args, **kwargs: None, "urlpatterns": []}
    exec(strawberry_snippet(), namespace)

    printed = print_schema(namespace["schema"]._schema)  # type: ignore[attr-defined]
    contract = (REPO / "schema" / "schema.graphql").read_text()
    # The contract without its Subscription, which the snippet leaves to the live updates.
    assert printed + "\n" == contract[: contract.index("\ntype Subscription")]
    assert len(namespace["urlpatterns"]) == 1  # type: ignore[arg-type]


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
