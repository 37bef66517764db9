"""The suite through PgBouncer in transaction mode (TEST_PGBOUNCER=1, tests/pgbouncer.py).

Only asserts that the connections really go through the pooler; the rest of the suite (the
exactly-once concurrency tests included) is what runs through it.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection

from tests.pgbouncer import PGBOUNCER_KEY, admin
from user_messages import api

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_PGBOUNCER"), reason="TEST_PGBOUNCER=1 runs the suite through PgBouncer"
)


@pytest.mark.django_db(transaction=True)
def test_the_test_database_is_reached_through_pgbouncer_in_transaction_mode(
    request, django_user_model
):
    bouncer = request.config.stash[PGBOUNCER_KEY]
    user = django_user_model.objects.create_user("alice")
    api.info(user, "Through the pooler.")

    assert [m.message for m in api.get_messages(user=user)] == ["Through the pooler."]
    assert connection.settings_dict["PORT"] == str(bouncer.port)
    pools = {
        pool["database"]: pool
        for pool in admin(bouncer.port, "SHOW POOLS")
        if pool["database"] == connection.settings_dict["NAME"]
    }
    assert pools[connection.settings_dict["NAME"]]["pool_mode"] == "transaction"
    (stats,) = (
        row
        for row in admin(bouncer.port, "SHOW STATS")
        if row["database"] == connection.settings_dict["NAME"]
    )
    assert stats["total_xact_count"] >= 3
