"""The package's offline GraphiQL page (user_messages/graphiql.py) on both GraphQL stacks.

The browser side runs in tests/test_browser.py (GraphiQL answers a query with no other host
reachable) and the tutorial's GraphiQL in tests/test_docs_tutorial.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from user_messages import api
from user_messages.graphiql import GraphiQLView

STATIC = Path(__file__).resolve().parent.parent / "user_messages" / "static"


def page_settings(html: str) -> dict[str, str]:
    found = re.search(
        r'<script id="user-messages-graphiql" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, html
    settings: dict[str, str] = json.loads(found.group(1))
    return settings


def test_the_page_loads_every_file_from_the_package_s_static_files(settings) -> None:
    settings.STATIC_URL = "/static/"
    request = RequestFactory().get("/graphiql/")
    html = GraphiQLView.as_view()(request).render().content.decode()

    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert len(assets) == 8
    for asset in assets:
        assert asset.startswith("/static/user_messages/graphiql/"), asset
        assert (STATIC / asset.removeprefix("/static/")).is_file(), asset
    assert "//" not in "".join(assets)


@pytest.mark.django_db
def test_a_query_sent_with_the_page_s_csrf_header_and_token_passes_csrf_on_both_stacks(
    stack: str, settings
) -> None:
    settings.STATIC_URL = "/static/"
    user = get_user_model().objects.create_user("ada", password="x")
    api.info(user, "Hello.")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    found = page_settings(browser.get("/graphiql/").content.decode())
    assert found["endpoint"] == found["subscriptionEndpoint"] == "/graphql"
    assert found["csrfHeader"] == "X-CSRFTOKEN"

    answer = browser.post(
        found["endpoint"],
        json.dumps({"query": "{ myMessageCount }"}),
        content_type="application/json",
        headers={found["csrfHeader"]: found["csrfToken"]},
    )

    assert answer.status_code == 200, answer.content
    assert answer.json() == {"data": {"myMessageCount": 1}}


def test_the_page_names_the_header_django_reads_the_token_from(settings) -> None:
    settings.CSRF_HEADER_NAME = "HTTP_X_XSRF_TOKEN"
    view = GraphiQLView.as_view(endpoint="/api/graphql", subscription_endpoint="/ws/graphql")
    html = view(RequestFactory().get("/graphiql/")).render().content.decode()

    found = page_settings(html)
    assert (found["csrfHeader"], found["endpoint"], found["subscriptionEndpoint"]) == (
        "X-XSRF-TOKEN",
        "/api/graphql",
        "/ws/graphql",
    )
