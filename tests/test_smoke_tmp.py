import pytest
from user_messages import api


def test_roundtrip(user, other_user, django_assert_num_queries):
    m = api.info(user, "hi", meta={"url": "/x"})
    api.warning(user.pk, "sticky", deliver_once=False)
    assert api.error([user, other_user.pk], "many") == 2
    with django_assert_num_queries(2):
        got = list(api.get_messages(user=user))
    assert [str(x) for x in got] == ["hi", "sticky", "many"]
    assert got[0].meta == {"url": "/x"} and got[0].tags == "info"
    assert [str(x) for x in api.get_messages(user=user)] == ["sticky"]
    assert api.pending_count(user) == 1
    assert api.acknowledge(user, [got[1].pk]) == 1
    with django_assert_num_queries(1):
        assert list(api.get_messages(user=user)) == []
