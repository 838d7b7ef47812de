"""Problem reports (我身边的事) through the JSON API: the whole life of a report, bad input answered field by
field with the right status, every refused move, privacy and anonymity in every answer, the flag path, the
settings, figures and response guide, and /openapi.json. Both databases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from forum.access import access_report_image
from forum.actions import reports
from forum.app import create_app
from forum.db import Database
from forum.errors import NotFound
from forum.models import Community, District, Role, User
from forum.queries.reports import categories_of
from tests.conftest import app_config
from tests.factories import make_community, make_district_admin, make_member, make_report, make_user
from tests.helpers import bearer, csrf_token, login, multipart, text
from tests.test_images import png

EN = {"Accept-Language": "en"}


@pytest.fixture
async def app(db_url: str, tmp_path: Path) -> AsyncIterator[Quart]:
    """The app with room for the dozen refused reports a test here sends in a minute (refusals count too); the
    limit itself is tested with its own setting below."""
    application = create_app(app_config(db_url, tmp_path, RATE_LIMITS="reports.account=100/1h"))
    async with application.test_app():
        yield application


@dataclass
class Cast:
    community: Community
    reporter: User
    client: Client
    headers: dict[str, dict[str, str]]  # by role: reporter, neighbour, secretary, admin, outsider_secretary
    category_id: int
    place_id: int
    other_category_id: int  # another community's
    other_place_id: int
    other_slug: str


async def _cast(app: Quart, db: Database, prefix: str) -> Cast:
    """A community with a reporter, a neighbour, a secretary and the district's admin; another community (same
    district) with its own secretary, category and place."""
    community = await make_community(db)
    other = await make_community(db)
    people: dict[str, User] = {}
    for role_name, role, where in (
        ("reporter", Role.RESIDENT, community),
        ("neighbour", Role.RESIDENT, community),
        ("secretary", Role.SECRETARY, community),
        ("outsider_secretary", Role.SECRETARY, other),
    ):
        people[role_name] = await make_user(db, username=f"{prefix}_{role_name}")
        await make_member(db, user=people[role_name], community=where, role=role)
    people["admin"] = await make_user(db, username=f"{prefix}_admin")
    await make_district_admin(db, user=people["admin"], district_id=community.district_id)
    client = app.test_client()
    headers = {role_name: {**await bearer(client, f"{prefix}_{role_name}"), **EN} for role_name in people}
    secretary, outsider = headers["secretary"], headers["outsider_secretary"]
    place = await client.post(
        f"/api/v1/communities/{community.slug}/report-places", json={"name": "1号楼"}, headers=secretary
    )
    assert place.status_code == 201, await text(place)
    other_place = await client.post(
        f"/api/v1/communities/{other.slug}/report-places", json={"name": "9号楼"}, headers=outsider
    )
    async with db.unit_of_work() as session:
        category_id = (await categories_of(session, community.id or 0))[0].id or 0
        other_category_id = (await categories_of(session, other.id or 0))[0].id or 0
    return Cast(
        community=community,
        reporter=people["reporter"],
        client=client,
        headers=headers,
        category_id=category_id,
        place_id=(await place.get_json())["id"],
        other_category_id=other_category_id,
        other_place_id=(await other_place.get_json())["id"],
        other_slug=other.slug,
    )


def _report(cast: Cast, **overrides: object) -> dict[str, Any]:
    return {
        "category_id": cast.category_id,
        "place_id": cast.place_id,
        "description": "3单元楼道灯坏了，晚上很黑",
        **overrides,
    }


async def _json(response: Any, status: int) -> Any:
    assert response.status_code == status, await text(response)
    return await response.get_json()


async def test_a_report_goes_from_photo_to_answer_to_confirmed_and_rated_over_the_api(app: Quart, db: Database) -> None:
    cast = await _cast(app, db, "life")
    client, h = cast.client, cast.headers
    path = f"/api/v1/communities/{cast.community.slug}/reports"
    fields = {key: str(value) for key, value in _report(cast, title="楼道灯坏了", anonymous="true").items()}
    body, content_type = multipart(fields, [("images", "lamp.png", png())])
    made = await _json(await client.post(path, data=body, headers={**content_type, **h["reporter"]}), 201)
    assert (made["status"], made["title"], made["place"], made["is_anonymous"]) == (
        "submitted",
        "楼道灯坏了",
        "1号楼",
        True,
    )
    assert len(made["images"]) == 1 and made["thumb_url"] == made["images"][0]["thumb_url"]
    created, due = datetime.fromisoformat(made["created_at"]), datetime.fromisoformat(made["due_at"])
    assert due - created == timedelta(hours=48) and made["overdue"] is False and made["answered_at"] is None
    assert made["reporter"]["username"] == "life_reporter"  # the reporter sees their own name
    assert made["room"] == f"report:{made['id']}" and [entry["kind"] for entry in made["entries"]] == ["submitted"]
    report = f"/api/v1/reports/{made['id']}"

    listed = await _json(await client.get(path, headers=h["neighbour"]), 200)
    assert [row["id"] for row in listed["reports"]] == [made["id"]] and listed["room"] == f"reports:{cast.community.id}"
    assert listed["reports"][0]["reporter"] is None
    queue = await _json(await client.get(f"{path}/queue", headers=h["secretary"]), 200)
    assert queue["reports"][0]["reporter"]["username"] == "life_reporter"
    assert queue["room"] == f"report_queue:{cast.community.id}"

    answered = await _json(
        await client.post(f"{report}/responses", json={"body": "已通知物业，今天修好"}, headers=h["secretary"]), 201
    )
    assert answered["status"] == "answered" and answered["answered_at"] and answered["answer_minutes"] is not None
    assert answered["answered_by"]["username"] == "life_secretary"
    for status, extra in (("in_progress", {}), ("referred", {"referred_to": "物业公司"}), ("resolved", {})):
        moved = await _json(
            await client.post(
                f"{report}/responses",
                json={"body": f"状态：{status}", "status": status, **extra},
                headers=h["secretary"],
            ),
            201,
        )
        assert moved["status"] == status
    assert moved["referred_to"] == "物业公司" and moved["confirm_until"]

    me_too = await _json(await client.put(f"{report}/me-too", headers=h["neighbour"]), 200)
    assert (me_too["me_too"], me_too["me_too_count"]) == (True, 1)
    assert (await _json(await client.put(f"{report}/me-too", headers=h["neighbour"]), 200))["me_too_count"] == 1
    assert (await _json(await client.delete(f"{report}/me-too", headers=h["neighbour"]), 200))["me_too_count"] == 0
    await _json(await client.put(f"{report}/me-too", headers=h["neighbour"]), 200)
    commented = await _json(
        await client.post(f"{report}/comments", json={"body": "我家门口也黑"}, headers=h["neighbour"]), 201
    )
    assert [comment["author"]["username"] for comment in commented["comments"]] == ["life_neighbour"]

    reopened = await _json(
        await client.post(f"{report}/reopen", json={"reason": "还是不亮"}, headers=h["reporter"]), 200
    )
    assert reopened["status"] == "in_progress" and reopened["confirm_until"] is None
    await _json(
        await client.post(
            f"{report}/responses", json={"body": "换了灯泡", "status": "resolved"}, headers=h["secretary"]
        ),
        201,
    )
    closed = await _json(
        await client.post(f"{report}/confirm", json={"rating": 5, "comment": "很快"}, headers=h["reporter"]), 200
    )
    assert (closed["status"], closed["rating"], closed["rating_comment"]) == ("closed", 5, "很快") and closed[
        "closed_at"
    ]
    assert [entry["kind"] for entry in closed["entries"]] == [
        "submitted",
        "answer",
        "status",
        "status",
        "status",
        "reopened",
        "status",
        "confirmed",
        "rated",
    ]

    seen = await _json(await client.get(report, headers=h["neighbour"]), 200)
    assert seen["me_too"] is True and seen["me_too_count"] == 1 and seen["reporter"] is None
    by_reporter = [entry for entry in seen["entries"] if entry["by_reporter"]]
    assert by_reporter and all(entry["actor"] is None for entry in by_reporter)  # nameless to neighbours
    assert seen["entries"][1]["actor"]["username"] == "life_secretary"
    again = await client.post(
        f"{report}/responses", json={"body": "再次解决", "status": "resolved"}, headers=h["secretary"]
    )
    assert again.status_code == 409 and "status" in (await again.get_json())["fields"]
    rated_twice = await client.post(f"{report}/rating", json={"rating": 4}, headers=h["reporter"])
    assert rated_twice.status_code == 409 and (await rated_twice.get_json())["fields"] == {
        "rating": "You rated this report already."
    }
    done = await _json(await client.get(path, headers=h["neighbour"], query_string={"show": "done"}), 200)
    assert [row["id"] for row in done["reports"]] == [made["id"]]
    assert (await _json(await client.get(path, headers=h["neighbour"]), 200))["reports"] == []


async def test_a_declined_report_says_where_to_go_and_is_rated_from_one_to_five(app: Quart, db: Database) -> None:
    cast = await _cast(app, db, "decl")
    client, h = cast.client, cast.headers
    made = await _json(
        await client.post(
            f"/api/v1/communities/{cast.community.slug}/reports", json=_report(cast), headers=h["reporter"]
        ),
        201,
    )
    report = f"/api/v1/reports/{made['id']}"
    nowhere = await client.post(
        f"{report}/responses", json={"body": "不归社区管", "status": "declined"}, headers=h["secretary"]
    )
    assert nowhere.status_code == 422
    assert (await nowhere.get_json())["fields"] == {"referred_to": "Say where to go instead."}
    declined = await _json(
        await client.post(
            f"{report}/responses",
            json={"body": "不归社区管", "status": "declined", "referred_to": "区城管 12345"},
            headers=h["secretary"],
        ),
        201,
    )
    assert declined["status"] == "declined" and declined["entries"][-1]["referred_to"] == "区城管 12345"
    for bad in (0, 6, "五"):
        refused = await client.post(f"{report}/rating", json={"rating": bad}, headers=h["reporter"])
        assert refused.status_code in (400, 422), await text(refused)
        assert "rating" in (await refused.get_json())["fields"]
    out_of_range = await client.post(f"{report}/rating", json={"rating": 7}, headers=h["reporter"])
    assert out_of_range.status_code == 422
    assert (await out_of_range.get_json())["fields"] == {"rating": "Choose from 1 to 5 stars."}
    rated = await _json(
        await client.post(f"{report}/rating", json={"rating": 2, "comment": "没解决"}, headers=h["reporter"]), 200
    )
    assert rated["rating"] == 2 and rated["entries"][-1]["kind"] == "rated"
    neighbour_rating = await client.post(f"{report}/rating", json={"rating": 5}, headers=h["neighbour"])
    assert neighbour_rating.status_code == 403


async def test_bad_input_gets_a_clear_message_per_field_and_the_right_status(app: Quart, db: Database) -> None:
    cast = await _cast(app, db, "bad")
    client, h = cast.client, cast.headers
    path = f"/api/v1/communities/{cast.community.slug}/reports"

    async def refused(body: dict[str, Any], status: int = 422) -> dict[str, str]:
        answer = await _json(await client.post(path, json=body, headers=h["reporter"]), status)
        assert answer["message"]
        fields: dict[str, str] = answer["fields"]
        return fields

    assert (await refused(_report(cast, category_id=987654))) == {
        "category_id": "Choose one of this community's categories."
    }
    assert set(await refused(_report(cast, category_id=cast.other_category_id))) == {"category_id"}
    assert (await refused(_report(cast, place_id=cast.other_place_id))) == {
        "place_id": "Choose one of this community's buildings or places."
    }
    assert set(await refused(_report(cast, description="  "))) == {"description"}
    assert set(await refused(_report(cast, category_id=2**40, place_id="2" * 12))) == {"category_id", "place_id"}
    assert set(await refused(_report(cast, place_id=None))) == {"location"}
    assert set(await refused(_report(cast, plan_x=5000, plan_y=10))) == {"plan_x"}
    assert set(await refused(_report(cast, description="x" * (reports.DESCRIPTION_MAX + 1)))) == {"description"}
    assert set(await refused(_report(cast, description="坏\x00了"), 400)) == {"description"}

    fields = {key: str(value) for key, value in _report(cast).items()}
    body, content_type = multipart(fields, [("images", f"p{n}.png", png()) for n in range(reports.MAX_IMAGES + 1)])
    too_many = await _json(await client.post(path, data=body, headers={**content_type, **h["reporter"]}), 400)
    assert too_many["fields"] == {"images": "At most 9 photos per report; you chose 10."}
    body, content_type = multipart(fields, [("images", "broken.png", b"\x89PNG not really")])
    broken = await _json(await client.post(path, data=body, headers={**content_type, **h["reporter"]}), 400)
    assert "broken.png" in broken["fields"]["images"]

    for raw in (b"\xff\xfe", b"{not json", b"[" * 10_000):
        answer = await client.post(path, data=raw, headers={"Content-Type": "application/json", **h["reporter"]})
        assert answer.status_code == 400, await text(answer)
        assert (await answer.get_json())["message"]

    assert (await client.get("/api/v1/reports/99999999999999", headers=h["reporter"])).status_code == 404
    assert (await client.get(f"/api/v1/reports/{2**31}", headers=h["reporter"])).status_code == 404
    listed = await client.get(path, headers=h["reporter"], query_string={"before": str(2**40)})
    assert listed.status_code == 400 and "before" in (await listed.get_json())["fields"]
    queue = await client.get(f"{path}/queue", headers=h["secretary"], query_string={"status": "lost"})
    assert queue.status_code == 422 and (await queue.get_json())["fields"] == {
        "status": "Choose a status from the list."
    }
    cursor = await client.get(f"{path}/queue", headers=h["secretary"], query_string={"after": "x.y.z"})
    assert cursor.status_code == 422 and "after" in (await cursor.get_json())["fields"]
    hours = await client.put(
        f"/api/v1/communities/{cast.community.slug}/report-settings", json={"answer_hours": 0}, headers=h["secretary"]
    )
    assert hours.status_code == 400 and "answer_hours" in (await hours.get_json())["fields"]
    assert (await _json(await client.get(path, headers=h["reporter"]), 200))["reports"] == []  # nothing was stored


async def test_every_move_that_is_not_allowed_is_refused_with_the_reason(app: Quart, db: Database) -> None:
    cast = await _cast(app, db, "moves")
    client, h = cast.client, cast.headers
    made = await _json(
        await client.post(
            f"/api/v1/communities/{cast.community.slug}/reports", json=_report(cast), headers=h["reporter"]
        ),
        201,
    )
    report = f"/api/v1/reports/{made['id']}"
    answer = {"body": "我来处理", "status": "resolved"}
    by_resident = await client.post(f"{report}/responses", json=answer, headers=h["neighbour"])
    assert by_resident.status_code == 403
    assert (await by_resident.get_json())["message"] == "Only the community's secretaries answer reports formally."
    assert (await client.post(f"{report}/responses", json=answer, headers=h["reporter"])).status_code == 403
    for method, url in (("get", report), ("post", f"{report}/responses"), ("put", f"{report}/me-too")):
        outsider = await getattr(client, method)(url, json=answer, headers=h["outsider_secretary"])
        assert outsider.status_code == 404, (method, url)
    not_resolved = await client.post(f"{report}/confirm", json={}, headers=h["reporter"])
    assert not_resolved.status_code == 409
    assert (await not_resolved.get_json())["fields"] == {
        "status": "Only a resolved report can be confirmed; this one is submitted."
    }
    assert (await client.post(f"{report}/reopen", json={"reason": "没修"}, headers=h["reporter"])).status_code == 409
    assert (await client.post(f"{report}/rating", json={"rating": 3}, headers=h["reporter"])).status_code == 409
    assert (await client.put(f"{report}/me-too", headers=h["reporter"])).status_code == 409
    unknown = await client.post(f"{report}/responses", json={"body": "好的", "status": "lost"}, headers=h["secretary"])
    assert unknown.status_code == 422 and (await unknown.get_json())["fields"] == {
        "status": "Choose a status from the list."
    }

    await _json(await client.post(f"{report}/responses", json=answer, headers=h["secretary"]), 201)
    assert (await client.post(f"{report}/confirm", json={}, headers=h["neighbour"])).status_code == 403
    backwards = await client.post(
        f"{report}/responses", json={"body": "回到已答复", "status": "answered"}, headers=h["secretary"]
    )
    assert backwards.status_code == 409
    assert (await backwards.get_json())["fields"] == {"status": "A report that is resolved cannot become answered."}
    await _json(await client.post(f"{report}/confirm", json={"rating": "4"}, headers=h["reporter"]), 200)
    for status in ("resolved", "in_progress", "closed"):
        final = await client.post(
            f"{report}/responses", json={"body": "再改", "status": status}, headers=h["secretary"]
        )
        assert final.status_code == 409, status
    closed_again = await client.post(
        f"{report}/responses", json={"body": "再改", "status": "closed"}, headers=h["secretary"]
    )
    assert (await closed_again.get_json())["fields"] == {"status": "This report is closed: it cannot change any more."}
    assert (await client.put(f"{report}/me-too", headers=h["neighbour"])).status_code == 409
    assert (await client.post(f"{report}/reopen", json={"reason": "又坏了"}, headers=h["reporter"])).status_code == 409


async def test_a_private_report_and_a_hidden_name_reach_only_the_reporter_and_the_secretaries(
    app: Quart, db: Database
) -> None:
    cast = await _cast(app, db, "priv")
    client, h = cast.client, cast.headers
    path = f"/api/v1/communities/{cast.community.slug}/reports"
    fields = {key: str(value) for key, value in _report(cast, private="true", description="和楼上邻居的纠纷").items()}
    body, content_type = multipart(fields, [("images", "a.png", png())])
    private = await _json(await client.post(path, data=body, headers={**content_type, **h["reporter"]}), 201)
    anonymous = await _json(await client.post(path, json=_report(cast, anonymous=True), headers=h["reporter"]), 201)

    assert (await client.get(f"/api/v1/reports/{private['id']}", headers=h["neighbour"])).status_code == 404
    for url, method in (
        (f"/api/v1/reports/{private['id']}/comments", "post"),
        (f"/api/v1/reports/{private['id']}/me-too", "put"),
    ):
        assert (await getattr(client, method)(url, json={"body": "看看"}, headers=h["neighbour"])).status_code == 404
    neighbour_user = await make_user(db, username="priv_late")  # a fresh account: the image helper needs a user
    async with db.unit_of_work() as session:
        for viewer in (neighbour_user,):
            with pytest.raises(NotFound):
                await access_report_image(session, viewer, int(private["images"][0]["url"].split("/")[-2]))
    image_rule = "/reports/images/<id:image_id>/<variant>"
    if any(rule.rule == image_rule for rule in app.url_map.iter_rules()):  # the page's photo route
        photo = await client.get(private["images"][0]["url"], headers=h["neighbour"])
        assert photo.status_code == 404
    for role in ("reporter", "secretary", "admin"):
        seen = await _json(await client.get(f"/api/v1/reports/{private['id']}", headers=h[role]), 200)
        assert seen["is_private"] and seen["reporter"]["username"] == "priv_reporter", role

    query = {"category_id": cast.category_id, "place_id": cast.place_id, "show": "all"}
    for role, expected_ids in (
        ("neighbour", [anonymous["id"]]),
        ("reporter", [anonymous["id"], private["id"]]),
        ("secretary", [anonymous["id"], private["id"]]),
    ):
        listed = await _json(await client.get(path, headers=h[role], query_string=query), 200)
        assert [row["id"] for row in listed["reports"]] == expected_ids, role
        similar = await _json(await client.get(f"{path}/similar", headers=h[role], query_string=query), 200)
        assert [row["id"] for row in similar["reports"]] == expected_ids, role
        names = [row["reporter"] for row in listed["reports"] + similar["reports"]]
        if role == "neighbour":
            assert names == [None, None]
        else:
            assert {name["username"] for name in names} == {"priv_reporter"}
    detail = await _json(await client.get(f"/api/v1/reports/{anonymous['id']}", headers=h["neighbour"]), 200)
    assert detail["reporter"] is None and detail["entries"][0]["actor"] is None
    by_secretary = await _json(await client.get(f"/api/v1/reports/{anonymous['id']}", headers=h["secretary"]), 200)
    assert by_secretary["reporter"]["username"] == by_secretary["entries"][0]["actor"]["username"] == "priv_reporter"
    reply = await _json(
        await client.post(
            f"/api/v1/reports/{anonymous['id']}/comments", json={"body": "谢谢关注"}, headers=h["reporter"]
        ),
        201,
    )
    assert reply["comments"][0]["author"]["username"] == "priv_reporter"  # to themselves
    seen_comment = (await _json(await client.get(f"/api/v1/reports/{anonymous['id']}", headers=h["neighbour"]), 200))[
        "comments"
    ][0]
    assert seen_comment["author"] is None and seen_comment["by_reporter"] is True
    assert "priv_reporter" not in json.dumps(detail) and "priv_reporter" not in json.dumps(seen_comment)


async def test_reports_and_their_comments_are_flagged_and_hidden_through_the_one_flag_path(
    app: Quart, db: Database
) -> None:
    cast = await _cast(app, db, "flag")
    client, h = cast.client, cast.headers
    report = await make_report(db, reporter=cast.reporter, community=cast.community)
    url = f"/api/v1/reports/{report.id}"
    flagged = await _json(await client.post(f"{url}/flags", json={"reason": "spam"}, headers=h["neighbour"]), 200)
    assert flagged == {"id": report.id, "added": True}
    assert (await _json(await client.post(f"{url}/flags", json={"reason": "spam"}, headers=h["neighbour"]), 200))[
        "added"
    ] is False
    own = await client.post(f"{url}/flags", json={"reason": "spam"}, headers=h["reporter"])
    assert own.status_code == 403 and (await own.get_json())["message"] == "This is your own report."
    queue = await _json(
        await client.get(f"/api/v1/communities/{cast.community.slug}/review", headers=h["secretary"]), 200
    )
    assert [(item["kind"], item["report_id"]) for item in queue["items"]] == [("report", report.id)]

    assert (
        await client.post(f"{url}/moderate", json={"hidden": True, "reason": "广告"}, headers=h["neighbour"])
    ).status_code == 403
    hidden = await _json(
        await client.post(f"{url}/moderate", json={"hidden": True, "reason": "广告"}, headers=h["secretary"]), 200
    )
    assert hidden == {"id": report.id, "hidden": True, "reason": "广告"}
    assert (await client.get(url, headers=h["neighbour"])).status_code == 404
    mine = await _json(await client.get(url, headers=h["reporter"]), 200)
    assert mine["hidden"] is True and mine["hidden_reason"] == "广告"
    listed = await _json(
        await client.get(f"/api/v1/communities/{cast.community.slug}/reports", headers=h["neighbour"]), 200
    )
    assert listed["reports"] == []
    shown = await _json(await client.post(f"{url}/moderate", json={"hidden": False}, headers=h["secretary"]), 200)
    assert shown["hidden"] is False

    commented = await _json(
        await client.post(f"{url}/comments", json={"body": "这是广告链接"}, headers=h["neighbour"]), 201
    )
    comment_id = commented["comments"][0]["id"]
    comment_url = f"/api/v1/reports/comments/{comment_id}"
    assert (
        await _json(await client.post(f"{comment_url}/flags", json={"reason": "spam"}, headers=h["reporter"]), 200)
    )["added"]
    review = await _json(
        await client.post(f"{comment_url}/review", json={"agree": True, "reason": "广告"}, headers=h["secretary"]), 200
    )
    assert review == {"id": comment_id, "hidden": True, "reason": "广告"}
    assert (await _json(await client.get(url, headers=h["reporter"]), 200))["comments"] == []
    by_author = (await _json(await client.get(url, headers=h["neighbour"]), 200))["comments"]
    assert [(item["hidden"], item["hidden_reason"]) for item in by_author] == [(True, "广告")]
    assert (
        await client.post(f"{comment_url}/flags", json={"reason": "spam"}, headers=h["reporter"])
    ).status_code == 404
    restored = await _json(
        await client.post(f"{comment_url}/moderate", json={"hidden": False}, headers=h["secretary"]), 200
    )
    assert restored["hidden"] is False
    assert len((await _json(await client.get(url, headers=h["reporter"]), 200))["comments"]) == 1


async def test_secretaries_keep_categories_places_and_hours_and_admins_keep_the_guide(app: Quart, db: Database) -> None:
    cast = await _cast(app, db, "keep")
    client, h = cast.client, cast.headers
    base = f"/api/v1/communities/{cast.community.slug}"
    categories = await _json(await client.get(f"{base}/report-categories", headers=h["neighbour"]), 200)
    assert [item["name"] for item in categories["categories"]][:3] == ["环境卫生", "绿化", "停车"]
    assert (
        await client.post(f"{base}/report-categories", json={"name": "电梯"}, headers=h["neighbour"])
    ).status_code == 403
    lift = await _json(
        await client.post(f"{base}/report-categories", json={"name": "电梯"}, headers=h["secretary"]), 201
    )
    taken = await client.post(f"{base}/report-categories", json={"name": "电梯"}, headers=h["secretary"])
    assert taken.status_code == 409 and "name" in (await taken.get_json())["fields"]
    renamed = await _json(
        await client.patch(f"{base}/report-categories/{lift['id']}", json={"name": "电梯故障"}, headers=h["secretary"]),
        200,
    )
    assert renamed["name"] == "电梯故障"
    archived = await _json(
        await client.patch(f"{base}/report-categories/{lift['id']}", json={"archived": True}, headers=h["secretary"]),
        200,
    )
    assert archived["archived"] is True
    offered = await _json(await client.get(f"{base}/report-categories", headers=h["neighbour"]), 200)
    assert lift["id"] not in [item["id"] for item in offered["categories"]]
    everything = await _json(
        await client.get(f"{base}/report-categories", headers=h["secretary"], query_string={"archived": "true"}), 200
    )
    assert lift["id"] in [item["id"] for item in everything["categories"]]
    refused = await client.post(f"{base}/reports", json=_report(cast, category_id=lift["id"]), headers=h["reporter"])
    assert refused.status_code == 422
    elsewhere = await client.patch(
        f"{base}/report-categories/{cast.other_category_id}", json={"archived": True}, headers=h["secretary"]
    )
    assert elsewhere.status_code == 404

    gate = await _json(await client.post(f"{base}/report-places", json={"name": "东门"}, headers=h["secretary"]), 201)
    await _json(
        await client.patch(f"{base}/report-places/{gate['id']}", json={"archived": True}, headers=h["secretary"]), 200
    )
    places = await _json(await client.get(f"{base}/report-places", headers=h["reporter"]), 200)
    assert [item["name"] for item in places["places"]] == ["1号楼"]

    settings = await _json(
        await client.put(f"{base}/report-settings", json={"answer_hours": 24}, headers=h["secretary"]), 200
    )
    assert settings == {"answer_hours": 24}
    assert (
        await client.put(f"{base}/report-settings", json={"answer_hours": 12}, headers=h["reporter"])
    ).status_code == 403
    made = await _json(await client.post(f"{base}/reports", json=_report(cast), headers=h["reporter"]), 201)
    assert datetime.fromisoformat(made["due_at"]) - datetime.fromisoformat(made["created_at"]) == timedelta(hours=24)
    await _json(
        await client.post(f"/api/v1/reports/{made['id']}/responses", json={"body": "收到"}, headers=h["secretary"]), 201
    )

    figures = await _json(await client.get(f"{base}/reports/figures", headers=h["neighbour"]), 200)
    assert figures["figures"]["reports"] == 1 and figures["figures"]["answered_in_time"] == 1.0
    assert figures["by_secretary"] is None
    per_secretary = await _json(
        await client.get(f"{base}/reports/figures", headers=h["admin"], query_string={"days": 90}), 200
    )
    assert per_secretary["figures"]["days"] == 90
    assert [row["secretary"]["username"] for row in per_secretary["by_secretary"]] == ["keep_secretary"]

    async with db.unit_of_work() as session:
        district = await session.get(District, cast.community.district_id)
        assert district is not None
    guide = f"/api/v1/districts/{district.slug}/guide"
    entry = {"category": "停车", "question": "消防通道被占怎么办", "answer": "拍照上报，物业劝离", "department": "物业"}
    public = await _json(await client.post(guide, json=entry, headers=h["admin"]), 201)
    inner = await _json(
        await client.post(guide, json={**entry, "question": "内部口径", "public": False}, headers=h["admin"]), 201
    )
    assert (await client.post(guide, json=entry, headers=h["secretary"])).status_code == 403
    assert (await client.post(guide, json=entry, headers=h["neighbour"])).status_code == 404
    empty = await client.post(guide, json={**entry, "answer": ""}, headers=h["admin"])
    assert empty.status_code == 422 and "answer" in (await empty.get_json())["fields"]
    whole = await _json(await client.get(guide, headers=h["secretary"], query_string={"category": "停车"}), 200)
    assert [item["id"] for item in whole["entries"]] == [public["id"], inner["id"]]
    searched = await _json(await client.get(guide, headers=h["admin"], query_string={"q": "消防"}), 200)
    assert [item["id"] for item in searched["entries"]] == [public["id"]]
    faq = await _json(
        await client.get(f"{base}/report-guide", headers=h["neighbour"], query_string={"category": "停车"}), 200
    )
    assert [item["id"] for item in faq["entries"]] == [public["id"]]
    edited = await _json(
        await client.patch(f"{guide}/{public['id']}", json={**entry, "rule": "消防法第28条"}, headers=h["admin"]), 200
    )
    assert edited["rule"] == "消防法第28条"
    assert (await client.delete(f"{guide}/{inner['id']}", headers=h["admin"])).status_code == 204
    assert (await client.delete(f"{guide}/{inner['id']}", headers=h["admin"])).status_code == 404


async def test_api_writes_with_the_login_cookie_need_the_csrf_header(app: Quart, db: Database) -> None:
    cast = await _cast(app, db, "csrf")
    browser = app.test_client()
    await login(browser, "csrf_reporter")
    path = f"/api/v1/communities/{cast.community.slug}/reports"
    refused = await browser.post(path, json=_report(cast))
    assert refused.status_code == 403 and (await refused.get_json())["error"] == "csrf_failed"
    token = await csrf_token(browser)
    await _json(await browser.post(path, json=_report(cast), headers={"X-CSRF-Token": token}), 201)


async def test_the_openapi_document_lists_the_report_routes_with_the_actions_limits(app: Quart) -> None:
    document = await (await app.test_client().get("/openapi.json")).get_json()
    paths = document["paths"]
    for route, method in (
        ("/api/v1/communities/{slug}/reports", "get"),
        ("/api/v1/communities/{slug}/reports", "post"),
        ("/api/v1/communities/{slug}/reports/queue", "get"),
        ("/api/v1/communities/{slug}/reports/similar", "get"),
        ("/api/v1/communities/{slug}/reports/figures", "get"),
        ("/api/v1/reports/{report_id}", "get"),
        ("/api/v1/reports/{report_id}/responses", "post"),
        ("/api/v1/reports/{report_id}/confirm", "post"),
        ("/api/v1/reports/{report_id}/reopen", "post"),
        ("/api/v1/reports/{report_id}/rating", "post"),
        ("/api/v1/reports/{report_id}/me-too", "put"),
        ("/api/v1/reports/{report_id}/me-too", "delete"),
        ("/api/v1/reports/{report_id}/comments", "post"),
        ("/api/v1/reports/{report_id}/flags", "post"),
        ("/api/v1/reports/comments/{comment_id}/moderate", "post"),
        ("/api/v1/communities/{slug}/report-categories", "post"),
        ("/api/v1/communities/{slug}/report-places/{place_id}", "patch"),
        ("/api/v1/communities/{slug}/report-settings", "put"),
        ("/api/v1/districts/{district_slug}/guide", "get"),
        ("/api/v1/districts/{district_slug}/guide/{entry_id}", "delete"),
    ):
        assert method in paths.get(route, {}), (route, method)

    def body(route: str, content: str = "application/json") -> dict[str, Any]:
        schema: dict[str, Any] = paths[route]["post"]["requestBody"]["content"][content]["schema"]
        return schema["properties"]

    made = "/api/v1/communities/{slug}/reports"
    assert body(made)["description"]["maxLength"] == reports.DESCRIPTION_MAX
    assert body(made, "multipart/form-data")["title"]["maxLength"] == reports.TITLE_MAX
    assert body("/api/v1/reports/{report_id}/responses")["referred_to"]["maxLength"] == reports.REFERRED_MAX
    rating = body("/api/v1/reports/{report_id}/rating")["rating"]
    assert (rating["minimum"], rating["maximum"]) == (1, 5)
    hours = paths["/api/v1/communities/{slug}/report-settings"]["put"]["requestBody"]["content"]["application/json"]
    assert hours["schema"]["properties"]["answer_hours"]["maximum"] == 168


async def test_reports_are_rate_limited_per_person_across_page_and_api(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    limited = create_app(app_config(db_url, tmp_path, RATE_LIMITS="reports.account=2/1h"))
    async with limited.test_app():
        cast = await _cast(limited, db, "rate")
        path = f"/api/v1/communities/{cast.community.slug}/reports"
        for _ in range(2):
            await _json(await cast.client.post(path, json=_report(cast), headers=cast.headers["reporter"]), 201)
        third = await cast.client.post(path, json=_report(cast), headers=cast.headers["reporter"])
        assert third.status_code == 429 and third.headers["Retry-After"]
        assert (await third.get_json())["error"] == "rate_limited"
        await _json(await cast.client.post(path, json=_report(cast), headers=cast.headers["neighbour"]), 201)
