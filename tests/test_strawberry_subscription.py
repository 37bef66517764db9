"""Strawberry's myMessageCount runs the count stream graphene runs, on the socket's LiveContext.

The consumer (user_messages/strawberry/channels.py) puts the socket's LiveContext on the
context as ``live``; here a real LiveContext is woken as the consumer's group messages wake it.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections

from user_messages import api
from user_messages.realtime.streams import SIGN_IN_TO_SUBSCRIBE

pytest.importorskip("strawberry")
pytest.importorskip("channels")

from user_messages.realtime.consumer import LiveContext

SUBSCRIPTION = "subscription { myMessageCount }"

pytestmark = pytest.mark.django_db(transaction=True)


def subscribe(context: Any) -> Any:
    from tests.strawberry_schema import schema

    return schema.subscribe(SUBSCRIPTION, context_value=context)


def test_the_count_comes_at_once_then_after_each_change(user: AbstractBaseUser) -> None:
    api.info(user, "One.")

    async def scenario() -> list[int]:
        live = LiveContext(user=user, scope={})
        stream = await subscribe(SimpleNamespace(live=live))
        counts = [(await anext(stream)).data["myMessageCount"]]
        await sync_to_async(api.info)(user, "Two.")
        live.changed()
        counts.append((await asyncio.wait_for(anext(stream), 5)).data["myMessageCount"])
        # A wake-up that changes nothing sends nothing; the next real change does.
        live.changed()
        await sync_to_async(api.acknowledge_all)(user)
        live.changed()
        counts.append((await asyncio.wait_for(anext(stream), 5)).data["myMessageCount"])
        await stream.aclose()
        # The reads keep their thread's connection open for the next one, as in a server
        # process: closed here, so that the test database can be dropped.
        await sync_to_async(connections.close_all)()
        return counts

    assert asyncio.run(scenario()) == [1, 2, 0]


@pytest.mark.parametrize("context", [SimpleNamespace(), SimpleNamespace(live=None)])
def test_without_a_signed_in_socket_the_subscription_is_an_error(context: Any) -> None:
    async def scenario() -> Any:
        stream = await subscribe(context)
        return await anext(stream)

    result = asyncio.run(scenario())

    assert [error.message for error in result.errors] == [SIGN_IN_TO_SUBSCRIBE]


def test_an_anonymous_socket_gets_the_same_error(db: None) -> None:
    from django.contrib.auth.models import AnonymousUser

    async def scenario() -> Any:
        stream = await subscribe(SimpleNamespace(live=LiveContext(user=AnonymousUser(), scope={})))
        return await anext(stream)

    assert [error.message for error in asyncio.run(scenario()).errors] == [SIGN_IN_TO_SUBSCRIBE]


@pytest.mark.parametrize("document", [SUBSCRIPTION, "subscription { noSuchField }"])
def test_a_clients_mistake_on_the_socket_logs_no_error(
    document: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.strawberry_schema import schema

    async def scenario() -> Any:
        stream = await schema.subscribe(document, context_value=SimpleNamespace(live=None))
        return stream if not hasattr(stream, "__anext__") else await anext(stream)

    result = asyncio.run(scenario())

    assert result.errors
    assert [r for r in caplog.records if r.levelno > logging.INFO or r.exc_info] == []
