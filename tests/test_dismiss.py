"""The Dismiss views of user_messages.urls: POST only, login, CSRF, own messages, safe redirects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.template import engines
from django.test import Client, RequestFactory

from user_messages import api
from user_messages.dismiss import prefers_json
from user_messages.models import Message
from user_messages.signals import messages_changed

#: What a browser sends with a form post (Chromium's navigation Accept).
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
HTMX = {"HX-Request": "true", "Accept": "*/*"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def browser(user: AbstractBaseUser) -> Client:
    """Alice's browser: a form post accepts HTML."""
    client = Client(headers={"Accept": BROWSER_ACCEPT})
    client.force_login(user)
    return client


@pytest.fixture
def heard():
    """The user_ids of every messages_changed sent while the test runs."""
    calls: list[Any] = []

    def listener(sender: Any, user_ids: Any, **kwargs: Any) -> None:
        calls.append(sorted(user_ids) if user_ids is not None else None)

    messages_changed.connect(listener, dispatch_uid="test_dismiss")
    yield calls
    messages_changed.disconnect(dispatch_uid="test_dismiss")


def sticky(user: AbstractBaseUser, text: str = "Sticky") -> Message:
    message = api.warning(user, text, deliver_once=False)
    assert message is not None
    return message


def acknowledged(message: Message) -> bool:
    message.refresh_from_db()
    return message.acknowledged_at is not None


def url(message_id: object) -> str:
    return f"/messages/{message_id}/acknowledge/"


ALL_PATHS = ["/messages/1/acknowledge/", "/messages/1/archive/", "/messages/acknowledge-all/"]


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize("method", ["get", "head", "put", "patch", "delete", "options"])
def test_only_post_is_allowed(browser, user, path, method):
    message = sticky(user)

    response = getattr(browser, method)(path.replace("/1/", f"/{message.pk}/"))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert not acknowledged(message)


def test_a_form_post_dismisses_the_message_and_goes_back_to_next(
    browser, user, heard, django_capture_on_commit_callbacks
):
    message = sticky(user)
    other = sticky(user, "Other")

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(url(message.pk), {"next": "/somewhere/?tab=2"})

    assert response.status_code == 302
    assert response["Location"] == "/somewhere/?tab=2"
    assert acknowledged(message)
    assert not acknowledged(other)
    assert heard == [[user.pk]]  # the live count and the cache hear of it


def test_acknowledge_all_dismisses_every_pending_message_of_the_user_only(
    browser, user, other_user, heard, django_capture_on_commit_callbacks
):
    mine = [sticky(user), api.info(user, "once")]
    theirs = sticky(other_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/messages/acknowledge-all/", {"next": "/done/"})

    assert response["Location"] == "/done/"
    assert api.pending_count(user) == 0
    assert all(acknowledged(message) for message in mine)
    assert not acknowledged(theirs)
    assert heard == [[user.pk]]


def test_archive_removes_the_message_from_the_inbox_and_acknowledges_it(
    browser, user, heard, django_capture_on_commit_callbacks
):
    message = sticky(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/messages/{message.pk}/archive/", {"next": "/inbox/"})

    assert response["Location"] == "/inbox/"
    message.refresh_from_db()
    assert message.archived_at is not None
    assert message.acknowledged_at is not None
    assert api.pending_count(user) == 0
    assert heard == [[user.pk]]


def test_an_anonymous_form_post_goes_to_the_login_page_and_back_to_the_page(user, settings):
    message = sticky(user)
    client = Client(headers={"Accept": BROWSER_ACCEPT})

    response = client.post(url(message.pk), {"next": "/page/?x=1"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/page/%3Fx%3D1"
    assert not acknowledged(message)


@pytest.mark.parametrize("headers", [HTMX, JSON], ids=["htmx", "json"])
@pytest.mark.parametrize("path", ALL_PATHS)
def test_an_anonymous_script_gets_403_as_json(user, headers, path):
    message = sticky(user)

    response = Client(headers=headers).post(path.replace("/1/", f"/{message.pk}/"))

    assert response.status_code == 403
    assert response.json() == {"error": {"code": "unauthenticated", "message": "Sign in first."}}
    assert not acknowledged(message)


def _csrf_token(client: Client) -> str:
    """The token a page with a Dismiss form carries (and the cookie that goes with it)."""
    html = client.get("/page/").content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html
    return match[1]


@pytest.mark.parametrize("headers", [{"Accept": BROWSER_ACCEPT}, HTMX, JSON])
def test_csrf_is_checked_as_django_does(user, headers):
    first, second = sticky(user), sticky(user, "Second")
    client = Client(enforce_csrf_checks=True, headers=headers)
    client.force_login(user)
    token = _csrf_token(client)

    refused = client.post(url(first.pk))
    forged = client.post(url(first.pk), {"csrfmiddlewaretoken": "x" * 64})
    accepted = client.post(url(second.pk), {"csrfmiddlewaretoken": token})
    by_header = client.post(url(first.pk), headers={**headers, "X-CSRFToken": token})

    assert (refused.status_code, forged.status_code) == (403, 403)
    assert b"CSRF" in refused.content  # Django's own failure page
    assert accepted.status_code in (204, 200, 302)
    assert by_header.status_code == accepted.status_code
    assert acknowledged(first)
    assert acknowledged(second)


#: Ids that are not the caller's: another user's, unknown, and ones no message can have.
def _not_mine(theirs: Message) -> list[str]:
    return [
        str(theirs.pk),
        "987654",
        "abc",
        "0",
        "-1",
        "1e3",
        "01x",
        "%20" + str(theirs.pk),
        "%EF%BC%91",  # a fullwidth "1"
        "9" * 19,
        "9" * 30,
        "%00",
        "%F0%9F%92%A5",
    ]


def test_ids_that_are_not_mine_change_nothing_and_answer_like_one_already_dismissed(
    browser, user, other_user, heard, django_capture_on_commit_callbacks
):
    theirs = sticky(other_user)
    mine = sticky(user)
    api.acknowledge(user, [mine.pk])

    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post(url(mine.pk), {"next": "/back/"})
        for message_id in _not_mine(theirs):
            response = browser.post(url(message_id), {"next": "/back/"})
            assert (response.status_code, response["Location"]) == (302, "/back/"), message_id
    assert (done.status_code, done["Location"]) == (302, "/back/")

    assert not acknowledged(theirs)
    assert api.pending_count(other_user) == 1
    assert heard == []


@pytest.mark.parametrize(
    ("verb", "key"), [("acknowledge", "acknowledgedIds"), ("archive", "archivedIds")]
)
def test_ids_that_are_not_mine_give_the_same_json_as_an_unknown_one(user, other_user, verb, key):
    theirs = sticky(other_user)
    mine = sticky(user)
    client = Client(headers=JSON)
    client.force_login(user)

    answers = {m: client.post(f"/messages/{m}/{verb}/").json() for m in _not_mine(theirs)}

    assert set(map(json.dumps, answers.values())) == {json.dumps({key: [], "pendingCount": 1})}
    done = {key: [mine.pk], "pendingCount": 0}
    assert client.post(f"/messages/{mine.pk}/{verb}/").json() == done
    # Idempotent: one's own message is still named when posted again.
    assert client.post(f"/messages/{mine.pk}/{verb}/").json() == done
    theirs.refresh_from_db()
    assert (theirs.acknowledged_at, theirs.archived_at) == (None, None)


def test_htmx_gets_204_and_no_redirect(user):
    message = sticky(user)
    client = Client(headers=HTMX)
    client.force_login(user)

    response = client.post(url(message.pk), {"next": "/back/"})
    everything = client.post("/messages/acknowledge-all/")

    assert (response.status_code, response.content) == (204, b"")
    assert (everything.status_code, everything.content) == (204, b"")
    assert "Location" not in response
    assert acknowledged(message)


def test_a_client_that_prefers_json_gets_the_result_and_the_new_count(user):
    first, second = sticky(user), sticky(user, "Second")
    client = Client(headers=JSON)
    client.force_login(user)

    one = client.post(url(first.pk))
    api.info(user, "once")
    everything = client.post("/messages/acknowledge-all/")

    assert one.status_code == 200
    assert one["Content-Type"] == "application/json"
    assert one.json() == {"acknowledgedIds": [first.pk], "pendingCount": 1}
    assert everything.json() == {"acknowledgedCount": 2, "pendingCount": 0}
    assert acknowledged(second)


@pytest.mark.parametrize(
    ("accept", "json_preferred"),
    [
        ("application/json", True),
        ("application/json, text/html;q=0.9", True),
        ("text/html, application/json;q=0.9", False),
        ("application/*;q=0.9, text/html;q=0.5", True),
        ("*/*", False),
        ("", False),
        (BROWSER_ACCEPT, False),
        ("application/json;q=0", False),
        ("application/json;q=oops", False),
        ("text/html;q=0.1, application/json", True),
        ("APPLICATION/JSON", True),
        (",,;;q=,application/json", True),
    ],
)
def test_prefers_json_reads_accept_by_quality_and_specificity(accept, json_preferred):
    request = RequestFactory().post("/", headers={"Accept": accept})

    assert prefers_json(request) is json_preferred


@pytest.mark.parametrize(
    ("data", "query", "referer", "location"),
    [
        ({"next": "/from-post/"}, "", "", "/from-post/"),
        ({}, "?next=/from-query/", "", "/from-query/"),
        ({"next": "/post-wins/"}, "?next=/query-loses/", "", "/post-wins/"),
        ({"next": "http://testserver/same-host/"}, "", "", "http://testserver/same-host/"),
        (
            {"next": "https://elsewhere.example/"},
            "",
            "http://testserver/ref/",
            "http://testserver/ref/",
        ),
        ({}, "", "http://testserver/ref/?a=1", "http://testserver/ref/?a=1"),
        ({}, "", "https://elsewhere.example/ref/", "/"),
        ({"next": "//evil.example/"}, "", "", "/"),
        ({}, "", "", "/"),
    ],
)
def test_a_form_post_goes_to_next_else_the_referer_else_the_setting(
    browser, user, data, query, referer, location
):
    message = sticky(user)
    headers = {"Referer": referer} if referer else {}

    response = browser.post(url(message.pk) + query, data, headers=headers)

    assert (response.status_code, response["Location"]) == (302, location)
    assert acknowledged(message)


@pytest.mark.parametrize(
    ("setting", "location"),
    [
        ("/inbox/", "/inbox/"),
        ("package_template_page", "/page/"),
        ("https://a.example/", "https://a.example/"),
    ],
)
def test_the_fallback_is_the_setting_a_path_url_or_url_name(browser, settings, setting, location):
    settings.USER_MESSAGES = {"DISMISS_REDIRECT_URL": setting}

    response = browser.post("/messages/acknowledge-all/", {"next": "https://evil.example/"})

    assert response["Location"] == location


def test_on_https_next_must_be_https_too(browser):
    response = browser.post(
        "/messages/acknowledge-all/?next=http://testserver/plain/",
        headers={"Referer": "https://testserver/secure/"},
        secure=True,
    )

    assert response["Location"] == "https://testserver/secure/"


# The template: {% include "user_messages/messages.html" %}


def _main(response: Any) -> str:
    html = response.content.decode()
    return html[html.index("<main>") : html.index("</main>") + len("</main>")]


def test_the_template_renders_each_kind_with_a_dismiss_form_on_sticky_ones(browser, user):
    once = api.info(user, "Once & done")
    kept = api.error(user, "Kept <b>", "urgent", deliver_once=False, meta={"url": "/inbox/"})

    response = browser.get("/page/?tab=1&flash=Flash")

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert token
    assert _main(response) == (
        '<main><ul class="user-messages">\n'
        '<li class="user-message info">\n'
        '  <span class="user-message-text">Flash</span>\n</li>\n'
        f'<li class="user-message info" data-message-id="{once.pk}">\n'
        '  <span class="user-message-text">Once &amp; done</span>\n</li>\n'
        f'<li class="user-message urgent error user-message-sticky" data-message-id="{kept.pk}">\n'
        '  <span class="user-message-text"><a href="/inbox/">Kept &lt;b&gt;</a></span>\n  '
        '<form class="user-message-dismiss" method="post" '
        f'action="/messages/{kept.pk}/acknowledge/">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token[1]}">'
        '<input type="hidden" name="next" value="/page/?tab=1&amp;flash=Flash">'
        '<button type="submit">Dismiss</button></form>\n</li>\n'
        "</ul>\n</main>"
    )


def test_the_template_renders_action_buttons_with_safe_urls_only(browser, user):
    message = api.info(
        user,
        "Invoice due",
        deliver_once=False,
        actions=[
            {"label": "Pay now", "url": "/billing/pay/?id=1&x=2"},
            {"label": "View <invoice>", "url": "https://billing.example/i/1"},
        ],
    )
    # A row written around the API (raw SQL, an old import) is re-checked when rendered.
    Message.objects.filter(pk=message.pk).update(
        actions=[
            *message.actions,
            {"label": "Steal", "url": "javascript:alert(1)"},
            {"label": "Elsewhere", "url": "//evil.example/"},
            {"label": "", "url": "/empty-label/"},
            "not a dict",
        ]
    )

    html = _main(browser.get("/page/"))

    assert (
        '<span class="user-message-actions">'
        '<a class="user-message-action" href="/billing/pay/?id=1&amp;x=2">Pay now</a>'
        '<a class="user-message-action" href="https://billing.example/i/1">'
        "View &lt;invoice&gt;</a></span>"
    ) in html
    assert html.count('class="user-message-action"') == 2
    assert "javascript" not in html
    assert "evil.example" not in html
    assert "/empty-label/" not in html


def test_the_template_renders_nothing_without_messages(browser):
    assert _main(browser.get("/page/")) == "<main>\n</main>"


def test_dismissing_from_the_rendered_form_removes_the_message_from_the_next_page(user):
    sticky(user, "Read me")
    client = Client(enforce_csrf_checks=True, headers={"Accept": BROWSER_ACCEPT})
    client.force_login(user)
    html = client.get("/page/").content.decode()
    action = re.search(r'<form class="user-message-dismiss" method="post" action="([^"]+)">', html)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    following = re.search(r'name="next" value="([^"]+)"', html)
    assert action
    assert token
    assert following

    response = client.post(
        action[1], {"csrfmiddlewaretoken": token[1], "next": following[1]}, follow=True
    )

    assert response.redirect_chain == [("/page/", 302)]
    assert _main(response) == "<main>\n</main>"


def test_a_page_with_the_template_and_nothing_pending_costs_one_query_more_than_django_alone(
    browser, django_assert_num_queries, settings
):
    processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "OPTIONS": {"context_processors": processors[:-1]}}
    ]
    with django_assert_num_queries(2):  # session, user
        browser.get("/page/")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "OPTIONS": {"context_processors": processors}}]
    with django_assert_num_queries(3) as captured:
        response = browser.get("/page/")

    assert _main(response) == "<main>\n</main>"
    assert "user_messages_message" in captured.captured_queries[-1]["sql"]


def test_sticky_messages_with_dismiss_forms_cost_no_query_per_message(
    browser, user, django_assert_num_queries
):
    for n in range(5):
        sticky(user, f"Sticky {n}")
    browser.get("/page/")  # the first view records when each was first seen (one UPDATE)

    with django_assert_num_queries(3):  # session, user, the messages
        response = browser.get("/page/")

    assert response.content.decode().count('class="user-message-dismiss"') == 5


def test_a_projects_own_template_replaces_the_packages(browser, user, settings, tmp_path):
    (tmp_path / "user_messages").mkdir()
    (tmp_path / "user_messages" / "message.html").write_text(
        "{% load user_messages %}<p>{{ message }}{% dismiss_form message next='/mine/' %}</p>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    message = sticky(user, "Mine")

    html = _main(browser.get("/page/"))

    assert html.startswith(
        '<main><ul class="user-messages">\n<p>Mine\n  <form class="user-message-dismiss"'
    )
    assert f'action="/messages/{message.pk}/acknowledge/"' in html
    assert '<input type="hidden" name="next" value="/mine/">' in html


# The how-to's templates (docs/howto/dismiss.md), rendered as a project renders them.

HOWTO = Path(__file__).resolve().parent.parent / "docs" / "howto" / "dismiss.md"


def howto_templates() -> list[str]:
    """The how-to's ```django blocks, in order."""
    return re.findall(r"^```django\n(.*?)^```", HOWTO.read_text(), re.S | re.M)


def test_the_howto_has_the_templates_these_tests_render():
    assert len(howto_templates()) == 5


@pytest.fixture
def howto_page(browser, settings, tmp_path):
    """Serve /page/ with a template of the how-to as the page (or as one of the package's)."""

    def serve(n: int, *, as_name: str = "package_template_page.html") -> str:
        path = tmp_path / as_name
        path.parent.mkdir(parents=True, exist_ok=True)
        page = howto_templates()[n]
        if as_name != "package_template_page.html":
            page_path = tmp_path / "package_template_page.html"
            page_path.write_text('<main>{% include "user_messages/messages.html" %}</main>')
        path.write_text(page)
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
        return browser.get("/page/").content.decode()

    return serve


def test_the_howtos_include_line_renders_the_packages_template(howto_page, user):
    message = sticky(user, "Verify your e-mail address.")

    html = howto_page(0)

    assert html.startswith('<ul class="user-messages">')
    assert f'action="/messages/{message.pk}/acknowledge/"' in html


def test_the_howtos_own_markup_uses_both_tags(howto_page, user):
    message = api.info(
        user,
        "Invoice due",
        deliver_once=False,
        actions=[{"label": "Pay now", "url": "/billing/pay/"}],
    )
    once = api.info(user, "Once", actions=[{"label": "Look", "url": "/look/"}])

    html = howto_page(1)

    assert '<a class="btn btn-sm" href="/billing/pay/">Pay now</a>' in html
    assert '<a class="btn btn-sm" href="/look/">Look</a>' in html
    assert html.count('class="user-message-dismiss"') == 1
    assert f'action="/messages/{message.pk}/acknowledge/"' in html
    assert f"/messages/{once.pk}/" not in html


def test_the_howtos_dismiss_all_and_archive_forms_render_for_the_views(user):
    message = sticky(user)
    # The snippet sits in a loop in a real page: render it with `message` as the loop would.
    request = RequestFactory().get("/here/?x=1")
    request.user = user
    html = engines["django"].from_string(howto_templates()[2]).render({"message": message}, request)

    assert '<form method="post" action="/messages/acknowledge-all/">' in html
    assert '<input type="hidden" name="next" value="/here/?x=1">' in html
    assert f'<form method="post" action="/messages/{message.pk}/archive/">' in html
    assert html.count('name="csrfmiddlewaretoken"') == 2


def test_the_howtos_script_tag_loads_the_shipped_script(howto_page, settings):
    settings.STATIC_URL = "/static/"
    html = howto_page(3)

    assert '<script src="/static/user_messages/dismiss.js" defer></script>' in html
    shipped = Path(__file__).resolve().parent.parent / "user_messages" / "static"
    assert "form.user-message-dismiss" in (shipped / "user_messages" / "dismiss.js").read_text()


def test_the_howtos_htmx_form_posts_for_204_and_still_works_without_htmx(howto_page, user):
    message = sticky(user)
    html = howto_page(4, as_name="user_messages/dismiss_form.html")
    form_url = f"/messages/{message.pk}/acknowledge/"

    assert f'hx-post="{form_url}"' in html
    assert f'action="{form_url}"' in html
    assert "this.closest('.user-message').remove()" in html
    assert '<input type="hidden" name="next" value="/page/">' in html

    client = Client(headers={"HX-Request": "true"})
    client.force_login(user)
    assert client.post(form_url).status_code == 204
    assert acknowledged(message)


def test_dismissing_costs_a_select_and_an_update_besides_session_and_user(
    browser, user, django_assert_num_queries
):
    message = sticky(user)

    with django_assert_num_queries(4) as captured:  # session, user, which ids are mine, UPDATE
        browser.post(url(message.pk), {"next": "/"})

    assert [q["sql"].split()[0] for q in captured.captured_queries[2:]] == ["SELECT", "UPDATE"]
    assert acknowledged(message)


@pytest.mark.parametrize("role", ["anonymous", "other", "staff", "superuser", "owner"])
@pytest.mark.parametrize("verb", ["acknowledge", "archive", "acknowledge-all"])
def test_only_the_owner_dismisses_or_archives_the_owners_messages(make_user, role, verb):
    owner = make_user("alice")
    users = {
        "owner": owner,
        "other": make_user("bob"),
        "staff": make_user("staff", is_staff=True),
        "superuser": make_user("root", is_staff=True, is_superuser=True),
    }
    message = sticky(owner)
    client = Client(headers={"Accept": BROWSER_ACCEPT})
    if role != "anonymous":
        client.force_login(users[role])
    path = "/messages/acknowledge-all/" if verb == "acknowledge-all" else url(message.pk)
    path = path.replace("/acknowledge/", f"/{verb}/")

    response = client.post(path, {"next": "/back/"})

    message.refresh_from_db()
    changed = (message.acknowledged_at, message.archived_at) != (None, None)
    assert changed is (role == "owner")
    expected = "/back/" if role != "anonymous" else "/accounts/login/?next=/back/"
    assert (response.status_code, response["Location"]) == (302, expected)
