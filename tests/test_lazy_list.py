"""What get_messages returns: a list that reads on first use, once, and behaves as a list."""

from __future__ import annotations

import copy
import pickle

import pytest
from django.template import Context, Template

from user_messages import api


@pytest.fixture
def two_sent(user):
    return [api.info(user, "first"), api.warning(user, "sticky", deliver_once=False)]


def test_nothing_is_read_until_the_list_is_used_then_it_is_read_once(
    user, two_sent, django_assert_num_queries
):
    with django_assert_num_queries(0):
        messages = api.get_messages(user=user)
        # isinstance as with django-user-messages 1.1's lazy list, and it reads nothing.
        assert isinstance(messages, list)

    with django_assert_num_queries(2):  # the SELECT and the claiming UPDATE
        assert len(messages) == 2
    with django_assert_num_queries(0):
        assert [str(m) for m in messages] == ["first", "sticky"]
        assert bool(messages)
        assert messages[0] == two_sent[0]
        assert messages[-1:] == [two_sent[1]]
        assert two_sent[1] in messages
        assert [str(m) for m in reversed(messages)] == ["sticky", "first"]
        assert messages == two_sent
        assert messages.index(two_sent[1]) == 1
        # Concatenation is what these two lines test (__add__ and __radd__), not unpacking.
        assert messages + ["x"] == [*two_sent, "x"]  # noqa: RUF005
        assert ["x"] + messages == ["x", *two_sent]  # noqa: RUF005


def test_each_list_reads_on_its_own_and_consumes_what_it_showed(user, two_sent):
    first, second = api.get_messages(user=user), api.get_messages(user=user)

    assert [str(m) for m in first] == ["first", "sticky"]
    assert [str(m) for m in second] == ["sticky"]
    assert first != second


def test_an_empty_list_is_false(user):
    messages = api.get_messages(user=user)

    assert not messages
    assert messages == []
    assert repr(messages) == "[]"


def test_list_methods_work_on_what_was_read(user, two_sent):
    messages = api.peek_messages(user=user)

    messages.append("added")
    assert len(messages) == 3
    assert messages.copy()[-1] == "added"
    assert messages.count("added") == 1


def test_copies_and_pickles_are_plain_lists(user, two_sent):
    messages = api.get_messages(user=user)

    assert type(copy.copy(messages)) is list
    assert [str(m) for m in copy.deepcopy(messages)] == ["first", "sticky"]
    assert [str(m) for m in pickle.loads(pickle.dumps(messages))] == ["first", "sticky"]


def test_it_is_unhashable_as_a_list_is(user):
    with pytest.raises(TypeError):
        hash(api.get_messages(user=user))


def test_a_missing_attribute_is_an_attribute_error(user):
    with pytest.raises(AttributeError):
        api.get_messages(user=user).no_such_method  # noqa: B018


def test_templates_read_it_once_however_often_they_use_it(
    user, two_sent, django_assert_num_queries
):
    template = Template(
        "{% if messages %}{{ messages|length }}:"
        "{% for m in messages %}{{ m }}{% if not forloop.last %},{% endif %}{% endfor %}"
        "{% endif %}"
    )

    with django_assert_num_queries(2):
        rendered = template.render(Context({"messages": api.get_messages(user=user)}))

    assert rendered == "2:first,sticky"
