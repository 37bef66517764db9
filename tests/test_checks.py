"""System checks: a misconfiguration is reported with a stable id and a fix."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils.translation import gettext_lazy as _

from user_messages.checks import check_context_processors, check_settings

DJANGO = "django.contrib.messages.context_processors.messages"
OURS = "user_messages.context_processors.messages"


def templates(*processors):
    return [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": list(processors)},
        }
    ]


def test_the_test_project_passes_all_checks(db):
    # db: Django 6 checks JSONField support with a query.
    call_command("check")


def test_ours_before_djangos_is_e002(db, settings):
    settings.TEMPLATES = templates(OURS, DJANGO)

    errors = check_context_processors()

    assert [e.id for e in errors] == ["user_messages.E002"]
    assert errors[0].hint == f"Move {OURS!r} after {DJANGO!r}."
    with pytest.raises(SystemCheckError, match=r"user_messages\.E002"):
        call_command("check")


@pytest.mark.parametrize("processors", [(DJANGO, OURS), (OURS,), (DJANGO,), ()])
def test_other_orders_are_fine(settings, processors):
    settings.TEMPLATES = templates(*processors)

    assert check_context_processors() == []


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ({}, []),
        ({"SEND_PERMISSION": "auth.add_user", "MAX_RECIPIENTS": 5, "CACHE": "default"}, []),
        ([], ["user_messages.E003"]),
        ({"MAX_RECIPIENT": 5}, ["user_messages.E004"]),
        ({"SEND_PERMISSION": "add_message"}, ["user_messages.E005"]),
        ({"SEND_PERMISSION": None}, ["user_messages.E005"]),
        ({"MAX_MESSAGE_LENGTH": 0}, ["user_messages.E006"]),
        ({"MAX_EXTRA_TAGS_LENGTH": -1}, ["user_messages.E006"]),
        ({"MAX_META_BYTES": "4k", "MAX_RECIPIENTS": True}, ["user_messages.E006"] * 2),
        ({"CACHE": "nope"}, ["user_messages.E007"]),
        ({"MAX_ACKNOWLEDGE_IDS": 0}, ["user_messages.E006"]),
        ({"MAX_LIST_LENGTH": 0, "MAX_HISTORY_READS": "5"}, ["user_messages.E006"] * 2),
        ({"MAX_LIST_LENGTH": 999}, ["user_messages.E009"]),
        ({"LIVE_SEND_TIMEOUT": 0.5, "LIVE_SEND_PAUSE": 30}, []),
        ({"LIVE_SEND_TIMEOUT": 0, "LIVE_SEND_PAUSE": "5"}, ["user_messages.E010"] * 2),
        ({"LIVE_SEND_TIMEOUT": float("nan"), "LIVE_SEND_PAUSE": None}, ["user_messages.E010"] * 2),
        ({"MAX_LIST_LENGTH": 50, "MAX_ACKNOWLEDGE_IDS": 50}, ["user_messages.E009"]),
        ({"MAX_LIST_LENGTH": 100, "MAX_ACKNOWLEDGE_IDS": 100}, []),
        ({"MAX_LIST_LENGTH": 2000, "MAX_ACKNOWLEDGE_IDS": 2000, "MAX_RECIPIENTS": 2000}, []),
        ({"MAX_MESSAGES_PER_READ": "100"}, ["user_messages.E006"]),
        ({"MAX_HISTORY_PAGE": 0}, ["user_messages.E006"]),
        ({"MAX_HISTORY_PAGE": 500}, []),
        ({"MAX_QUERY_TOKENS": -1, "MAX_QUERY_DEPTH": None}, ["user_messages.E006"] * 2),
        ({"MAX_QUERY_FIELDS": 1.5}, ["user_messages.E006"]),
        ({"MAX_QUERY_LENGTH": 0}, ["user_messages.E006"]),
        ({"WEBSOCKET_MAX_SUBSCRIPTIONS": 0}, ["user_messages.E006"]),
        ({"WEBSOCKET_INIT_TIMEOUT": 2.5}, ["user_messages.E006"]),
        ({"WEBSOCKET_SESSION_RECHECK": None}, []),
        ({"WEBSOCKET_SESSION_RECHECK": 0.5}, []),
        ({"WEBSOCKET_SESSION_RECHECK": 0}, ["user_messages.E008"]),
        ({"WEBSOCKET_SESSION_RECHECK": "300"}, ["user_messages.E008"]),
        ({"WEBSOCKET_SESSION_RECHECK": True}, ["user_messages.E008"]),
        ({"WEBSOCKET_SESSION_RECHECK": float("inf")}, ["user_messages.E008"]),
        ({"WEBSOCKET_SESSION_RECHECK": float("nan")}, ["user_messages.E008"]),
        ({"CACHE": 1, "bogus": 1}, ["user_messages.E004", "user_messages.E007"]),
        ({"MAX_ACTIONS": 0}, []),
        ({"MAX_ACTIONS": 10}, []),
        ({"MAX_ACTIONS": -1}, ["user_messages.E017"]),
        ({"MAX_ACTIONS": "3"}, ["user_messages.E017"]),
        ({"MAX_ACTIONS": True}, ["user_messages.E017"]),
        ({"MAX_ACTIONS": None}, ["user_messages.E017"]),
    ],
)
def test_user_messages_setting_is_validated(settings, value, ids):
    settings.USER_MESSAGES = value

    assert [e.id for e in check_settings()] == ids


def test_a_list_limit_below_a_budget_names_both_and_the_fix(settings):
    settings.USER_MESSAGES = {
        "MAX_LIST_LENGTH": 10,
        "MAX_RECIPIENTS": 20,
        "MAX_ACKNOWLEDGE_IDS": 15,
    }

    (error,) = check_settings()

    assert error.msg == (
        "USER_MESSAGES['MAX_LIST_LENGTH'] is 10, less than USER_MESSAGES['MAX_RECIPIENTS'] (20): "
        "a list that long would be refused before that limit could answer."
    )
    assert error.hint == "Set MAX_LIST_LENGTH to at least 20."


def test_a_bad_max_actions_says_what_to_set(settings):
    settings.USER_MESSAGES = {"MAX_ACTIONS": -1}

    (error,) = check_settings()

    assert error.msg == (
        "USER_MESSAGES['MAX_ACTIONS'] must be an int of 0 or more (0: no action buttons), got -1."
    )
    assert error.hint == "Remove it to use the default, 3."


def test_unknown_key_names_the_valid_ones(settings):
    settings.USER_MESSAGES = {"MAX_RECIPIENT": 5}

    (error,) = check_settings()

    assert error.msg == "USER_MESSAGES has unknown keys: MAX_RECIPIENT."
    assert error.hint == (
        "Valid keys are: CACHE, CATEGORIES, LIVE_SEND_PAUSE, LIVE_SEND_TIMEOUT, "
        "MAX_ACKNOWLEDGE_IDS, MAX_ACTIONS, MAX_EXTRA_TAGS_LENGTH, MAX_HISTORY_PAGE, "
        "MAX_HISTORY_READS, MAX_LIST_LENGTH, MAX_MESSAGES_PER_READ, MAX_MESSAGE_LENGTH, "
        "MAX_META_BYTES, "
        "MAX_QUERY_COMPARISONS, MAX_QUERY_DEPTH, MAX_QUERY_FIELDS, MAX_QUERY_LENGTH, "
        "MAX_QUERY_TOKENS, MAX_RECIPIENTS, "
        "SEND_PERMISSION, WEBSOCKET_INIT_TIMEOUT, WEBSOCKET_MAX_SUBSCRIPTIONS, "
        "WEBSOCKET_SESSION_RECHECK."
    )


def test_a_bad_session_recheck_says_how_to_fix_it(settings):
    settings.USER_MESSAGES = {"WEBSOCKET_SESSION_RECHECK": -1}

    (error,) = check_settings()

    assert error.msg == (
        "USER_MESSAGES['WEBSOCKET_SESSION_RECHECK'] must be a positive number of seconds or "
        "None, got -1."
    )
    assert error.hint == "Remove it to use the default, 300; None turns the periodic check off."


@pytest.mark.parametrize(
    ("categories", "ids"),
    [
        ({}, []),
        ({"billing": {"label": "Billing"}}, []),
        (
            {
                "billing": {
                    "label": _("Billing"),
                    "description": _("Invoices"),
                    "default": False,
                    "critical": False,
                },
                "security": {"label": "Security", "critical": True, "default": True},
                "team.invites-2": {"label": "Invites"},
            },
            [],
        ),
        ([("billing", {"label": "Billing"})], ["user_messages.E011"]),
        (None, ["user_messages.E011"]),
        ({"": {"label": "None"}}, ["user_messages.E012"]),
        ({"two words": {"label": "Two"}}, ["user_messages.E012"]),
        ({"x" * 65: {"label": "Long"}}, ["user_messages.E012"]),
        ({1: {"label": "One"}}, ["user_messages.E012"]),
        ({"billing": "Billing"}, ["user_messages.E013"]),
        ({"billing": {"description": "Invoices"}}, ["user_messages.E013"]),
        ({"billing": {"label": "Billing", "lable": "x"}}, ["user_messages.E014"]),
        ({"billing": {"label": "Billing", "default": "yes"}}, ["user_messages.E015"]),
        ({"billing": {"label": "Billing", "critical": 1}}, ["user_messages.E015"]),
        (
            {"security": {"label": "Security", "critical": True, "default": False}},
            ["user_messages.E016"],
        ),
        ({"bad name": "Bad"}, ["user_messages.E012", "user_messages.E013"]),
    ],
)
def test_categories_are_validated(settings, categories, ids):
    settings.USER_MESSAGES = {"CATEGORIES": categories}

    assert [e.id for e in check_settings()] == ids


def test_a_category_without_a_label_says_how_to_declare_one(settings):
    settings.USER_MESSAGES = {"CATEGORIES": {"billing": {"description": "Invoices"}}}

    (error,) = check_settings()

    assert error.msg == (
        "USER_MESSAGES['CATEGORIES']['billing'] must be a dict with a 'label', got "
        "{'description': 'Invoices'}."
    )
    assert error.hint == "For example {\"label\": _('Billing')}."


def test_a_critical_category_that_is_off_by_default_is_refused_with_a_fix(settings):
    settings.USER_MESSAGES = {
        "CATEGORIES": {"security": {"label": "Security", "critical": True, "default": False}}
    }

    (error,) = check_settings()

    assert error.msg == (
        "USER_MESSAGES['CATEGORIES']['security'] is critical, so nobody can turn it off, but its "
        "default is False."
    )
    assert error.hint == "Remove 'default' from a critical category, or make it not critical."
