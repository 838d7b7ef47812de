"""The JSON API's request models carry the actions' own limits, so /openapi.json says what the actions accept:
every length, lower and upper bound of every request field (bodies, multipart forms, query strings) is
compared here with the constant the action (or query) checks, and a text field without a length limit fails."""

from __future__ import annotations

import types
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from quart import Quart
from quart.datastructures import FileStorage
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE

from forum import search
from forum.actions import (
    accounts,
    boards,
    communities,
    conversations,
    flags,
    guide,
    letters,
    listings,
    memberships,
    messages,
    mutes,
    report_settings,
    reports,
    sale_items,
    sales,
    suspensions,
    thread_tools,
    threads,
    word_filters,
)
from forum.api import (
    accounts_v1,
    boards_v1,
    communities_v1,
    forum_v1,
    letters_v1,
    market_v1,
    messages_v1,
    moderation_v1,
    notifications_v1,
    reports_v1,
    sales_v1,
    schemas,
)
from forum.api.bodies import MULTIPART_ATTRIBUTE
from forum.app import create_app
from forum.config import LOCALES
from forum.db import Database
from forum.markup import MAX_BODY_CHARS
from forum.models import FilterMode, ListingKind, MembershipStatus, ReportStatus, Role
from forum.queries import listings as listing_queries
from forum.queries import messages as message_queries
from forum.queries import reports as report_queries
from forum.queries import threads as thread_queries
from forum.validation import MAX_ID, NUMBER_TEXT_MAX, PASSWORD_MAX, REASON_MAX, USERNAME_MAX, WHEN_TEXT_MAX
from tests.conftest import app_config
from tests.factories import make_community, make_member, make_reply, make_thread, make_user
from tests.helpers import bearer


def longest(choices: Any) -> int:
    return max(len(choice) for choice in choices)


def most(limit: int) -> dict[str, int]:
    return {"max_length": limit}


def between(low: int, high: int) -> dict[str, int]:
    return {"ge": low, "le": high}


ID = between(0, MAX_ID)
LATER_ID = between(1, MAX_ID)
NUMBER_TEXT = most(NUMBER_TEXT_MAX)  # a number as forms send it; the action parses it and explains
REASON = most(REASON_MAX)

# (model, field) -> its limits: `name` for the field, `name[]` for a list's items, `name<str>` for one member of
# a union. Lower bounds of 0 and 1 are the actions' ranges ("0: off", "at least one hour").
EXPECTED: dict[type[BaseModel], dict[str, dict[str, int]]] = {
    accounts_v1.RegisterIn: {
        "username": most(USERNAME_MAX),
        "password": most(PASSWORD_MAX),
        "display_name": most(accounts.DISPLAY_NAME_MAX),
        "locale": most(longest(LOCALES)),
    },
    accounts_v1.CredentialsIn: {"username": most(USERNAME_MAX), "password": most(PASSWORD_MAX)},
    accounts_v1.MeIn: {"display_name": most(accounts.DISPLAY_NAME_MAX), "locale": most(longest(LOCALES))},
    accounts_v1.PasswordIn: {"current_password": most(PASSWORD_MAX), "new_password": most(PASSWORD_MAX)},
    boards_v1.BoardIn: {
        "name": most(boards.NAME_MAX),
        "description": most(boards.DESCRIPTION_MAX),
        "kind": most(longest(boards.NEW_BOARD_KINDS)),
    },
    boards_v1.BoardChangeIn: {"name": most(boards.NAME_MAX), "description": most(boards.DESCRIPTION_MAX)},
    boards_v1.PositionIn: {},  # from 0 to the number of open boards: the action says which
    communities_v1.JoinIn: {
        "code": most(communities.JOIN_CODE_TYPED_MAX),
        "building": most(memberships.ADDRESS_PART_MAX),
        "unit": most(memberships.ADDRESS_PART_MAX),
        "room": most(memberships.ADDRESS_PART_MAX),
    },
    communities_v1.MemberQuery: {"status": most(longest(MembershipStatus))},
    communities_v1.RoleIn: {},
    forum_v1.BoardListQuery: {},
    forum_v1.BoardQuery: {"before": most(thread_queries.CURSOR_MAX)},
    forum_v1.ThreadIn: {"title": most(threads.TITLE_MAX), "body": most(MAX_BODY_CHARS)},
    forum_v1.ThreadQuery: {"after": ID},
    forum_v1.ReplyIn: {"body": most(MAX_BODY_CHARS)},
    forum_v1.EditIn: {"body": most(MAX_BODY_CHARS), "note": most(threads.NOTE_MAX)},
    forum_v1.LikeIn: {},
    forum_v1.MentionQuery: {"q": most(USERNAME_MAX)},
    forum_v1.SearchQuery: {"q": most(search.QUERY_MAX)},
    letters_v1.LetterQuery: {"before": LATER_ID},
    letters_v1.LetterIn: {
        "usernames": most(message_queries.NAMES_TEXT_MAX),
        "group_name": most(letters.GROUP_NAME_MAX),
        "title": most(letters.TITLE_MAX),
        "body": most(MAX_BODY_CHARS),
    },
    letters_v1.LikeIn: {},
    letters_v1.FeatureIn: {},
    letters_v1.HideIn: {},
    market_v1.MarketQuery: {
        "kind": most(longest(listing_queries.KINDS)),
        "category": most(longest(listings.CATEGORIES)),
        "status": most(longest(listing_queries.STATUSES)),
        "q": most(listing_queries.QUERY_MAX),
    },
    market_v1.ListingIn: {
        "kind": most(longest(ListingKind)),
        "title": most(listings.TITLE_MAX),
        "description": most(listings.DESCRIPTION_MAX),
        "wanted": most(listings.WANTED_MAX),
        "category": most(longest(listings.CATEGORIES)),
        "condition": most(longest(listings.CONDITIONS)),
        "pickup_area": most(listings.PICKUP_MAX),
        "claim_hours<str>": NUMBER_TEXT,
    },
    market_v1.OfferIn: {"message": most(listings.MESSAGE_MAX), "offered_listing_id": ID},
    market_v1.ReasonIn: {"reason": REASON},
    messages_v1.StartConversationIn: {"username": most(USERNAME_MAX)},
    messages_v1.StartGroupIn: {
        "title": most(conversations.TITLE_MAX),
        "usernames": most(conversations.MAX_PARTICIPANTS),
        "usernames[]": most(USERNAME_MAX),
    },
    messages_v1.MessagePageQuery: {"before": LATER_ID},
    messages_v1.SendIn: {"body": most(messages.MAX_MESSAGE_CHARS), "client_id": most(messages.CLIENT_ID_MAX)},
    messages_v1.ReadIn: {"up_to": ID},
    messages_v1.MessageFlagIn: {"reason": most(longest(flags.REASONS)), "note": most(flags.NOTE_MAX)},
    moderation_v1.ReasonIn: {"reason": REASON},
    moderation_v1.LockIn: {"reason": REASON},
    moderation_v1.LogQuery: {},
    moderation_v1.FlagIn: {"reason": most(longest(flags.REASONS)), "note": most(flags.NOTE_MAX)},
    moderation_v1.QueueQuery: {"sort": most(longest(moderation_v1.REVIEW_ORDERS))},
    moderation_v1.ReviewIn: {"reason": REASON, "mute_hours": between(0, mutes.MUTE_HOURS_MAX)},
    moderation_v1.LetterHideIn: {"reason": REASON},
    moderation_v1.MuteIn: {"hours": between(1, mutes.MUTE_HOURS_MAX), "reason": REASON},
    moderation_v1.SuspendIn: {"days": between(0, suspensions.SUSPEND_DAYS_MAX), "reason": REASON},
    moderation_v1.PinIn: {"hours": between(0, thread_tools.PIN_HOURS_MAX)},
    moderation_v1.SlowModeIn: {"minutes": between(0, thread_tools.SLOW_MODE_MAX_MINUTES)},
    moderation_v1.TimerIn: {"hours": between(0, thread_tools.CLOSE_HOURS_MAX), "reason": REASON},
    moderation_v1.MoveIn: {"board": most(boards.SLUG_MAX)},
    moderation_v1.WordIn: {"word": most(word_filters.WORD_MAX), "mode": most(longest(FilterMode))},
    moderation_v1.HideThreadIn: {"reason": REASON},
    notifications_v1.NotificationQuery: {"before": LATER_ID},
    notifications_v1.ReadIn: {"ids": most(notifications_v1.READ_AT_ONCE), "ids[]": LATER_ID},
    notifications_v1.PreferencesInOut: {},
    sales_v1.SaleIn: {
        "title": most(sales.TITLE_MAX),
        "cause": most(sales.CAUSE_MAX),
        "pickup": most(sales.PICKUP_MAX),
        "starts_at": most(WHEN_TEXT_MAX),
        "ends_at": most(WHEN_TEXT_MAX),
        "target<str>": NUMBER_TEXT,
        "hold_hours<str>": NUMBER_TEXT,
    },
    sales_v1.ItemIn: {
        "title": most(sale_items.TITLE_MAX),
        "description": most(sale_items.DESCRIPTION_MAX),
        "price<str>": NUMBER_TEXT,
        "quantity<str>": NUMBER_TEXT,
    },
    sales_v1.ReserveIn: {"quantity<str>": NUMBER_TEXT},
    sales_v1.SummaryIn: {"summary": most(sales.SUMMARY_MAX)},
    reports_v1.ReportListQuery: {
        "show": most(longest(report_queries.LIST_FILTERS)),
        "category_id": LATER_ID,
        "place_id": LATER_ID,
        "before": LATER_ID,
    },
    reports_v1.QueueQuery: {
        "status": most(longest(ReportStatus)),
        "category_id": LATER_ID,
        "place_id": LATER_ID,
        "after": most(report_queries.QUEUE_CURSOR_MAX),
    },
    reports_v1.SimilarQuery: {"category_id": LATER_ID, "place_id": LATER_ID, "location": most(reports.LOCATION_MAX)},
    reports_v1.ReportIn: {
        "category_id<str>": NUMBER_TEXT,
        "description": most(reports.DESCRIPTION_MAX),
        "title": most(reports.TITLE_MAX),
        "place_id<str>": NUMBER_TEXT,
        "location": most(reports.LOCATION_MAX),
        "plan_x<str>": NUMBER_TEXT,
        "plan_y<str>": NUMBER_TEXT,
    },
    reports_v1.ResponseIn: {
        "body": most(reports.ANSWER_MAX),
        "status": most(longest(ReportStatus)),
        "referred_to": most(reports.REFERRED_MAX),
    },
    reports_v1.ConfirmIn: {"comment": most(reports.RATING_COMMENT_MAX)},  # the action explains a rating (1 to 5)
    reports_v1.ReopenIn: {"reason": most(reports.RATING_COMMENT_MAX)},
    reports_v1.RatingIn: {"comment": most(reports.RATING_COMMENT_MAX)},
    reports_v1.CommentIn: {"body": most(reports.COMMENT_MAX)},
    reports_v1.SettingsListQuery: {},
    reports_v1.CategoryIn: {"name": most(report_settings.CATEGORY_NAME_MAX)},
    reports_v1.CategoryChangeIn: {"name": most(report_settings.CATEGORY_NAME_MAX)},
    reports_v1.PlaceIn: {"name": most(report_settings.PLACE_NAME_MAX)},
    reports_v1.PlaceChangeIn: {},
    reports_v1.SettingsIn: {
        "answer_hours": between(report_settings.ANSWER_HOURS_MIN, report_settings.ANSWER_HOURS_MAX)
    },
    reports_v1.FiguresQuery: {"days": between(min(reports_v1.FIGURE_DAYS), max(reports_v1.FIGURE_DAYS))},
    reports_v1.GuideQuery: {"category": most(guide.CATEGORY_MAX), "q": most(guide.QUESTION_MAX)},
    reports_v1.GuideEntryIn: {
        "category": most(guide.CATEGORY_MAX),
        "question": most(guide.QUESTION_MAX),
        "answer": most(guide.ANSWER_MAX),
        "department": most(guide.DEPARTMENT_MAX),
        "rule": most(guide.RULE_MAX),
    },
    reports_v1.HideIn: {"reason": REASON},
    schemas.SwitchIn: {},
}


def _limits(
    annotation: Any, metadata: list[Any], path: str, found: dict[str, dict[str, int]], loose: list[str]
) -> None:
    """Collect the limits of one field into `found`; text without a max_length goes to `loose`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        inner = [item for each in extra for item in (each.metadata if isinstance(each, FieldInfo) else [each])]
        _limits(base, [*metadata, *inner], path, found, loose)
        return
    if origin in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        for member in members:
            if len(members) == 1:
                _limits(member, metadata, path, found, loose)
            else:  # each member carries its own limits: name it by its type
                base = get_args(member)[0] if get_origin(member) is Annotated else member
                _limits(member, [], f"{path}<{base.__name__}>", found, loose)
        return
    limits = {
        key: getattr(item, key)
        for item in metadata
        for key in ("max_length", "ge", "le")
        if isinstance(item, annotated_types.MaxLen | annotated_types.Ge | annotated_types.Le) and hasattr(item, key)
    }
    if origin is list:
        if limits:
            found[path] = limits
        _limits(get_args(annotation)[0], [], f"{path}[]", found, loose)
    elif annotation is str:
        if "max_length" not in limits:
            loose.append(path)
        found[path] = limits
    elif annotation in (int, float):
        if limits:
            found[path] = limits
    elif (
        origin is Literal
        or annotation in (bool, FileStorage)
        or (isinstance(annotation, type) and issubclass(annotation, Enum))
    ):
        pass  # a fixed set of values
    else:
        raise AssertionError(f"{path}: a type this test does not know ({annotation!r}); teach it")


def _request_models(app: Quart) -> set[type[BaseModel]]:
    models: set[type[BaseModel]] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        for attribute in (QUART_SCHEMA_REQUEST_ATTRIBUTE, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, MULTIPART_ATTRIBUTE):
            model = getattr(view, attribute, None)
            if isinstance(model, tuple):
                model = model[0]
            if model is not None:
                models.add(model)
    return models


def _expected(model: type[BaseModel]) -> dict[str, dict[str, int]]:
    """A model's expected limits; a multipart model has those of the JSON model it extends."""
    for cls in model.__mro__:
        if cls in EXPECTED:
            return EXPECTED[cls]
    raise AssertionError(f"{model.__module__}.{model.__name__} is not in EXPECTED: add its fields' limits")


def test_every_request_field_has_the_limits_of_the_action_behind_it(tmp_path: Path) -> None:
    app = create_app(app_config("sqlite+aiosqlite:///:memory:", tmp_path))
    models = _request_models(app)
    assert len(models) > 50  # the walk found the API
    checked: set[type[BaseModel]] = set()
    for model in sorted(models, key=lambda each: (each.__module__, each.__name__)):
        name = f"{model.__module__}.{model.__name__}"
        found: dict[str, dict[str, int]] = {}
        loose: list[str] = []
        for field_name, field in model.model_fields.items():
            _limits(field.annotation, list(field.metadata), field_name, found, loose)
        assert not loose, f"{name}: text without a max_length: {loose}"
        assert {path: limits for path, limits in found.items() if limits} == _expected(model), name
        checked.add(next(cls for cls in model.__mro__ if cls in EXPECTED))
    assert set(EXPECTED) == checked, f"models no route takes: {set(EXPECTED) - checked}"


async def test_the_openapi_document_gives_the_actions_limits(tmp_path: Path) -> None:
    app = create_app(app_config("sqlite+aiosqlite:///:memory:", tmp_path))
    document = await (await app.test_client().get("/openapi.json")).get_json()

    def body(path: str, content: str = "application/json") -> dict[str, Any]:
        schema: dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"][content]["schema"]
        return schema["properties"]

    assert body("/api/v1/posts/{post_id}/hide")["reason"]["maxLength"] == REASON_MAX == 500
    thread = "/api/v1/communities/{slug}/boards/{board_slug}/threads"
    assert body(thread)["title"]["maxLength"] == threads.TITLE_MAX == 120
    assert body(thread, "multipart/form-data")["title"]["maxLength"] == threads.TITLE_MAX


async def test_a_value_over_the_limit_is_answered_as_the_action_would(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author, secretary = await make_user(db, username="lim_author"), await make_user(db, username="lim_sec")
    await make_member(db, user=author, community=community)
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    reply = await make_reply(db, author=author, thread=await make_thread(db, author=author, community=community))
    client = app.test_client()
    headers = {**await bearer(client, "lim_sec"), "Accept-Language": "en"}

    too_long = await client.post(f"/api/v1/posts/{reply.id}/hide", json={"reason": "x" * 501}, headers=headers)
    assert too_long.status_code == 422
    assert (await too_long.get_json())["fields"] == {"reason": "At most 500 characters."}
    hidden = await client.post(f"/api/v1/posts/{reply.id}/hide", json={"reason": "x" * 500}, headers=headers)
    assert hidden.status_code == 200, await hidden.get_data(as_text=True)
