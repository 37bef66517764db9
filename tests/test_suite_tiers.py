"""The rule that lets the database configurations skip a test: it cannot reach the database.

tests/conftest.py skips, off SQLite, every test that asks for none of pytest-django's database
fixtures: pytest-django refuses such a test any query, so the engine cannot change its outcome.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import reaches_the_database


def test_a_test_without_a_database_fixture_is_refused_every_query(
    request: pytest.FixtureRequest,
) -> None:
    assert not reaches_the_database(request.node)
    with pytest.raises(RuntimeError, match="Database access not allowed"):
        get_user_model().objects.count()


def test_a_test_with_the_db_fixture_reaches_the_database(
    request: pytest.FixtureRequest, db: None
) -> None:
    assert reaches_the_database(request.node)
    assert get_user_model().objects.count() == 0


@pytest.mark.django_db
def test_the_django_db_mark_reaches_the_database_too(request: pytest.FixtureRequest) -> None:
    assert reaches_the_database(request.node)
