"""Secretaries manage a community's boards: add, rename, order, archive and restore, by page and by API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.access import standing_in
from forum.actions import boards as board_actions
from forum.db import Database
from forum.events import REGISTRY
from forum.models import (
    AuditEntry,
    Board,
    BoardKind,
    Community,
    Event,
    Membership,
    MembershipStatus,
    Post,
    Role,
    Thread,
    User,
)
from forum.permissions import CommunityStanding, can_archive_board, can_manage_boards
from tests.barriers import until_blocked
from tests.factories import PASSWORD, make_community, make_member, make_thread, make_user
from tests.helpers import login, member_client, post_form, text


async def _boards(db: Database, community: Community) -> list[Board]:
    async with db.read_only() as session:
        statement = select(Board).where(col(Board.community_id) == community.id).order_by(col(Board.position))
        return list((await session.execute(statement)).scalars())


async def _audit(db: Database) -> list[tuple[str, str]]:
    async with db.read_only() as session:
        rows = await session.execute(select(AuditEntry.action, AuditEntry.detail).order_by(col(AuditEntry.id)))
        return [(action, detail) for action, detail in rows.all()]


async def _board_events(db: Database) -> list[dict[str, object]]:
    async with db.read_only() as session:
        events = (
            (await session.execute(select(Event).where(col(Event.type) == "boards.changed").order_by(col(Event.id))))
            .scalars()
            .all()
        )
    payloads = []
    for event in events:
        payload = json.loads(event.payload)
        REGISTRY["boards.changed"].model_validate(payload)  # every recorded event matches its schema
        assert event.room == f"community:{payload['community_id']}"
        payloads.append(payload)
    return payloads


def _order(boards: list[Board]) -> list[tuple[str, int, bool]]:
    return [(board.slug, board.position, board.is_archived) for board in boards]


async def _manage(client: Client, community: Community, path: str, form: dict[str, str] | None = None) -> Any:
    return await post_form(client, f"/c/{community.slug}/boards{path}", form, token_from=f"/c/{community.slug}/boards")


async def test_a_secretary_adds_boards_at_the_end_of_the_list_with_stable_slugs(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    page = await text(await secretary.get(f"/c/{community.slug}"))
    assert f'href="/c/{community.slug}/boards"' in page  # linked from the community page for secretaries

    added = await _manage(secretary, community, "", {"name": "Lost & Found", "description": "丢了东西来这里问"})
    assert added.status_code == 302
    chinese = await _manage(secretary, community, "", {"name": "宠物交流", "kind": "guides"})
    assert chinese.status_code == 302
    another = await _manage(secretary, community, "", {"name": "老年活动"})
    assert another.status_code == 302

    stored = await _boards(db, community)
    assert _order(stored) == [
        ("notices", 0, False),
        ("talk", 1, False),
        ("guides", 2, False),
        ("sale", 3, False),
        ("swap", 4, False),
        ("lost-found", 5, False),
        ("board-1", 6, False),
        ("board-2", 7, False),
    ]
    assert [(b.name, b.kind, b.description) for b in stored[5:]] == [
        ("Lost & Found", "talk", "丢了东西来这里问"),
        ("宠物交流", "guides", ""),
        ("老年活动", "talk", ""),
    ]
    assert await _audit(db) == [
        ("board.add", "lost-found: Lost & Found"),
        ("board.add", "board-1: 宠物交流"),
        ("board.add", "board-2: 老年活动"),
    ]
    assert [(e["change"], e["board_id"]) for e in await _board_events(db)] == [
        ("added", stored[5].id),
        ("added", stored[6].id),
        ("added", stored[7].id),
    ]
    listing = await text(await secretary.get(f"/c/{community.slug}"))
    assert listing.index("邻里互动") < listing.index("Lost &amp; Found") < listing.index("宠物交流")
    assert "丢了东西来这里问" in listing
    board_page = await secretary.get(f"/c/{community.slug}/b/board-1")
    assert board_page.status_code == 200 and "宠物交流" in await text(board_page)


async def test_renaming_a_default_board_replaces_its_translated_name(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    # Sending the default name back as shown (only the description changed) keeps it translated.
    kept = await _manage(secretary, community, "/talk/rename", {"name": "邻里互动", "description": "楼里的事"})
    assert kept.status_code == 302
    talk = next(b for b in await _boards(db, community) if b.slug == "talk")
    assert (talk.name, talk.description) == ("", "楼里的事")

    renamed = await _manage(secretary, community, "/talk/rename", {"name": "月浦茶馆", "description": "楼里的事"})
    assert renamed.status_code == 302
    talk = next(b for b in await _boards(db, community) if b.slug == "talk")
    assert talk.name == "月浦茶馆"
    english = app.test_client()
    await make_member(db, user=await make_user(db, username="english_reader"), community=community)
    await login(english, "english_reader")
    page = await text(await english.get(f"/c/{community.slug}", headers={"Accept-Language": "en"}))
    assert "月浦茶馆" in page and "Neighbourhood talk" not in page and "Notices" in page
    assert await _audit(db) == [
        ("board.rename", "talk: description: 楼里的事"),
        ("board.rename", "talk: (talk) → 月浦茶馆"),
    ]
    # The same name again changes nothing and leaves no trace.
    await _manage(secretary, community, "/talk/rename", {"name": "月浦茶馆", "description": "楼里的事"})
    assert len(await _audit(db)) == 2


async def test_moving_boards_keeps_a_dense_order_and_the_ends_stay_put(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    assert (await _manage(secretary, community, "/guides/move", {"direction": "up"})).status_code == 302
    assert (await _manage(secretary, community, "/guides/move", {"direction": "up"})).status_code == 302
    assert (await _manage(secretary, community, "/notices/move", {"direction": "down"})).status_code == 302
    assert [b.slug for b in await _boards(db, community)] == ["guides", "talk", "notices", "sale", "swap"]
    # Up at the top and down at the bottom change nothing; a missing direction is explained.
    await _manage(secretary, community, "/guides/move", {"direction": "up"})
    await _manage(secretary, community, "/swap/move", {"direction": "down"})
    bad = await _manage(secretary, community, "/swap/move", {"direction": "sideways"})
    assert bad.status_code == 400 and "上移或下移" in await text(bad)
    stored = await _boards(db, community)
    assert [b.position for b in stored] == [0, 1, 2, 3, 4]
    assert await _audit(db) == [
        ("board.move", "guides: 2 → 1"),
        ("board.move", "guides: 1 → 0"),
        ("board.move", "notices: 1 → 2"),
    ]
    page = await text(await secretary.get(f"/c/{community.slug}/boards"))
    first = page.split('id="board-', 2)[1]
    assert "direction" in first and 'value="up"' not in first  # no "up" button on the top board


async def test_an_archived_board_leaves_the_list_and_takes_no_posts_but_its_threads_stay_readable(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    resident = await member_client(app, db, community, "archive_reader")
    author = await make_user(db, username="guide_author")
    await make_member(db, user=author, community=community)
    thread = await make_thread(db, author=author, community=community, board_slug="guides", title="如何办居住证")

    archived = await _manage(secretary, community, "/guides/archive")
    assert archived.status_code == 302
    assert _order(await _boards(db, community)) == [
        ("notices", 0, False),
        ("talk", 1, False),
        ("sale", 2, False),
        ("swap", 3, False),
        ("guides", 4, True),
    ]
    listing = await text(await resident.get(f"/c/{community.slug}"))
    assert "/b/talk" in listing and "/b/guides" not in listing
    board_page = await resident.get(f"/c/{community.slug}/b/guides")
    page = await text(board_page)
    assert board_page.status_code == 200 and "已归档" in page and "如何办居住证" in page and "f-title" not in page
    thread_page = await resident.get(f"/t/{thread.id}")
    page = await text(thread_page)
    assert thread_page.status_code == 200 and "如何办居住证" in page and 'class="reply-form"' not in page

    refused_thread = await post_form(
        resident, f"/c/{community.slug}/b/guides/threads", {"title": "新指南", "body": "内容"}, token_from="/"
    )
    assert refused_thread.status_code == 403
    assert "此版块已归档" in await text(refused_thread)
    refused_reply = await post_form(resident, f"/t/{thread.id}/replies", {"body": "谢谢"}, token_from="/")
    assert refused_reply.status_code == 403
    assert "此版块已归档" in await text(refused_reply)
    api = app.test_client()
    token = await (
        await api.post("/api/v1/auth/tokens", json={"username": "archive_reader", "password": PASSWORD})
    ).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    refused = await api.post(f"/api/v1/threads/{thread.id}/replies", json={"body": "谢谢"}, headers=headers)
    assert refused.status_code == 403 and (await refused.get_json())["error"] == "board_archived"
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Thread))).scalar_one() == 1
        assert (await session.execute(select(func.count()).select_from(Post))).scalar_one() == 1

    # Archiving again changes nothing; restoring puts it back at the end of the open boards.
    await _manage(secretary, community, "/guides/archive")
    assert (await _manage(secretary, community, "/guides/restore")).status_code == 302
    assert [b.slug for b in await _boards(db, community)] == ["notices", "talk", "sale", "swap", "guides"]
    assert (await post_form(resident, f"/t/{thread.id}/replies", {"body": "谢谢"}, token_from="/")).status_code == 302
    assert [action for action, _ in await _audit(db)] == ["board.archive", "board.restore"]
    assert [e["change"] for e in await _board_events(db)] == ["archived", "restored"]


async def test_the_notices_and_market_boards_cannot_be_archived(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    for slug in ("notices", "sale", "swap"):
        refused = await _manage(secretary, community, f"/{slug}/archive")
        assert refused.status_code == 409
        assert "公告版块和集市版块不能归档" in await text(refused)
    page = await text(await secretary.get(f"/c/{community.slug}/boards"))
    assert f"/c/{community.slug}/boards/talk/archive" in page  # no button where archiving is refused
    for slug in ("notices", "sale", "swap"):
        assert f"/c/{community.slug}/boards/{slug}/archive" not in page
    assert not any(b.is_archived for b in await _boards(db, community))
    assert await _audit(db) == []


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"name": ""}, 422, "此项必填"),
        ({"name": "   "}, 422, "此项必填"),
        ({"name": "长" * 41}, 422, "最多 40 个字符"),
        ({"name": "好名字", "description": "长" * 201}, 422, "最多 200 个字符"),
        ({"name": "好名字", "kind": "notices"}, 422, "讨论版块或指南版块"),
        ({"name": "邻里互动"}, 409, "已经有一个叫"),
        ({"name": "neighbourhood TALK"}, 409, "已经有一个叫"),
        ({"name": "Notices"}, 409, "已经有一个叫"),
    ],
)
async def test_bad_or_duplicate_names_are_explained_and_nothing_is_stored(
    app: Quart, db: Database, form: dict[str, str], status: int, message: str
) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    response = await _manage(secretary, community, "", form)
    assert response.status_code == status
    page = await text(response)
    assert message in page and 'id="form-errors"' in page
    assert form["name"][:10] in page  # what was typed stays in the form
    assert len(await _boards(db, community)) == 5
    assert await _audit(db) == [] and await _board_events(db) == []


async def test_a_rename_to_another_boards_name_is_refused_even_when_that_board_is_archived(
    app: Quart, db: Database
) -> None:
    community = await make_community(db)
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    await _manage(secretary, community, "", {"name": "旧物"})
    await _manage(secretary, community, "/board-1/archive")
    clash = await _manage(secretary, community, "", {"name": "旧物"})
    assert clash.status_code == 409 and "已归档的版块" in await text(clash)
    rename = await _manage(secretary, community, "/talk/rename", {"name": "办事指南"})
    assert rename.status_code == 409
    page = await text(rename)
    assert "办事指南" in page and 'aria-invalid="true"' in page
    assert [b.name for b in await _boards(db, community)] == ["", "", "", "", "", "旧物"]


async def test_only_secretaries_and_their_district_admins_manage_boards(app: Quart, db: Database) -> None:
    community = await make_community(db)
    other = await make_community(db)
    resident = await member_client(app, db, community, "not_a_sec")
    elsewhere = await member_client(app, db, other, "sec_elsewhere", role=Role.SECRETARY)
    for client, status in ((resident, 403), (elsewhere, 404)):
        assert (await client.get(f"/c/{community.slug}/boards")).status_code == status
        assert (await _manage(client, community, "", {"name": "偷偷加"})).status_code == status
        assert (await _manage(client, community, "/talk/rename", {"name": "改名"})).status_code == status
        assert (await _manage(client, community, "/talk/archive")).status_code == status
    page = await text(await resident.get(f"/c/{community.slug}"))
    assert f"/c/{community.slug}/boards" not in page
    secretary = await member_client(app, db, community, "board_sec", role=Role.SECRETARY)
    forged = await secretary.post(f"/c/{community.slug}/boards", form={"name": "跨站请求"})  # no CSRF token
    assert forged.status_code == 403
    assert [b.name for b in await _boards(db, community)] == ["", "", "", "", ""]
    assert await _audit(db) == []


async def test_board_management_by_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username="api_board_sec"), community=community, role=Role.SECRETARY)
    await make_member(db, user=await make_user(db, username="api_resident"), community=community)
    client = app.test_client()

    async def bearer(username: str) -> dict[str, str]:
        response = await client.post("/api/v1/auth/tokens", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {(await response.get_json())['token']}"}

    sec, resident = await bearer("api_board_sec"), await bearer("api_resident")
    base = f"/api/v1/communities/{community.slug}/boards"
    created = await client.post(base, json={"name": "Lost and found", "description": "失物招领"}, headers=sec)
    assert created.status_code == 201
    board = await created.get_json()
    assert {k: board[k] for k in ("slug", "name", "description", "kind", "position", "is_archived")} == {
        "slug": "lost-and-found",
        "name": "Lost and found",
        "description": "失物招领",
        "kind": "talk",
        "position": 5,
        "is_archived": False,
    }
    duplicate = await client.post(base, json={"name": "LOST AND FOUND"}, headers=sec)
    assert duplicate.status_code == 409
    assert "name" in (await duplicate.get_json())["fields"]
    empty = await client.post(base, json={"name": ""}, headers=sec)
    assert empty.status_code == 422 and "name" in (await empty.get_json())["fields"]

    renamed = await client.patch(f"{base}/talk", json={"name": "茶馆"}, headers=sec)
    assert (await renamed.get_json())["name"] == "茶馆" and (await renamed.get_json())["description"] == ""
    moved = await client.put(f"{base}/lost-and-found/position", json={"position": 0}, headers=sec)
    assert (await moved.get_json())["position"] == 0
    out_of_range = await client.put(f"{base}/talk/position", json={"position": 6}, headers=sec)
    assert out_of_range.status_code == 422 and "0 到 5" in (await out_of_range.get_json())["fields"]["position"]
    archived = await client.put(f"{base}/lost-and-found/archived", json={"value": True}, headers=sec)
    assert (await archived.get_json())["is_archived"] is True and (await archived.get_json())["position"] == 5
    permanent = await client.put(f"{base}/notices/archived", json={"value": True}, headers=sec)
    assert permanent.status_code == 409 and (await permanent.get_json())["error"] == "board_permanent"
    moving_archived = await client.put(f"{base}/lost-and-found/position", json={"position": 0}, headers=sec)
    assert moving_archived.status_code == 409

    listed = await (await client.get(base, headers=resident)).get_json()
    assert [b["slug"] for b in listed["boards"]] == ["notices", "talk", "guides", "sale", "swap"]
    assert [b["position"] for b in listed["boards"]] == [0, 1, 2, 3, 4]
    everything = await (await client.get(f"{base}?include_archived=true", headers=sec)).get_json()
    assert [(b["slug"], b["is_archived"]) for b in everything["boards"]][-1] == ("lost-and-found", True)
    assert (await client.get(f"{base}?include_archived=true", headers=resident)).status_code == 403
    assert (await client.post(base, json={"name": "居民加的"}, headers=resident)).status_code == 403
    assert (await client.patch(f"{base}/talk", json={"name": "x"}, headers=resident)).status_code == 403

    restored = await client.put(f"{base}/lost-and-found/archived", json={"value": False}, headers=sec)
    assert (await restored.get_json())["position"] == 5
    assert [action for action, _ in await _audit(db)] == [
        "board.add",
        "board.rename",
        "board.move",
        "board.archive",
        "board.restore",
    ]

    # Cookie clients need the CSRF header like every other write.
    cookie = app.test_client()
    await login(cookie, "api_board_sec")
    assert (await cookie.post(base, json={"name": "无令牌"})).status_code == 403

    spec = await (await client.get("/openapi.json")).get_json()
    for path in (
        "/api/v1/communities/{slug}/boards",
        "/api/v1/communities/{slug}/boards/{board_slug}",
        "/api/v1/communities/{slug}/boards/{board_slug}/position",
        "/api/v1/communities/{slug}/boards/{board_slug}/archived",
    ):
        assert path in spec["paths"], path
    assert {"post", "get"} <= set(spec["paths"]["/api/v1/communities/{slug}/boards"])


async def test_board_changes_share_one_rate_limit_across_the_page_and_the_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username="busy_sec"), community=community, role=Role.SECRETARY)
    api = app.test_client()
    token = await (
        await api.post("/api/v1/auth/tokens", json={"username": "busy_sec", "password": PASSWORD})
    ).get_json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    path = f"/api/v1/communities/{community.slug}/boards/swap/position"
    statuses = [(await api.put(path, json={"position": 4}, headers=headers)).status_code for _ in range(60)]
    assert set(statuses) == {200}
    page = app.test_client()
    await login(page, "busy_sec")
    refused = await _manage(page, community, "/talk/move", {"direction": "down"})
    assert refused.status_code == 429
    assert [b.slug for b in await _boards(db, community)] == ["notices", "talk", "guides", "sale", "swap"]


async def test_two_secretaries_moving_at_once_keep_the_order_dense(db: Database) -> None:
    community = await make_community(db)
    first, second = await make_user(db), await make_user(db)
    for user in (first, second):
        await make_member(db, user=user, community=community, role=Role.SECRETARY)

    async def move(session: AsyncSession, user: User, slug: str) -> None:
        statement = select(Board).where(col(Board.community_id) == community.id, col(Board.slug) == slug)
        board = (await session.execute(statement)).scalar_one()
        standing = await standing_in(session, user, community)
        await board_actions.move_board(session, actor=user, board=board, standing=standing, position=0)

    async def second_secretary() -> None:
        async with db.unit_of_work() as session:
            await move(session, second, "sale")

    # The first move is flushed but not committed when the second one reads the order: without the lock the
    # second would renumber the old order and two boards would end up at position 0.
    async with db.sessionmaker() as session:
        await move(session, first, "swap")
        racing = asyncio.create_task(second_secretary())
        await until_blocked(db)  # the second secretary's move waits for the first one's lock
        assert not racing.done()
        await db.commit(session)
    await racing
    stored = await _boards(db, community)
    assert [(b.slug, b.position) for b in stored] == [
        ("sale", 0),
        ("swap", 1),
        ("notices", 2),
        ("talk", 3),
        ("guides", 4),
    ]


def test_board_permissions_need_no_database() -> None:
    secretary = CommunityStanding(
        Membership(user_id=1, community_id=1, status=MembershipStatus.VERIFIED, role=Role.SECRETARY),
        is_district_admin=False,
    )
    resident = CommunityStanding(
        Membership(user_id=2, community_id=1, status=MembershipStatus.VERIFIED), is_district_admin=False
    )
    admin = CommunityStanding(None, is_district_admin=True)
    assert [can_manage_boards(s) for s in (secretary, resident, admin)] == [True, False, True]
    kinds = [BoardKind.TALK, BoardKind.GUIDES, BoardKind.NOTICES, BoardKind.SALE, BoardKind.SWAP]
    assert [can_archive_board(secretary, Board(community_id=1, slug=k, kind=k)) for k in kinds] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert not can_archive_board(resident, Board(community_id=1, slug="talk", kind=BoardKind.TALK))


def test_slugs_come_from_ascii_letters_or_a_numbered_fallback() -> None:
    taken = {"notices", "talk", "guides", "sale", "swap"}
    assert board_actions.slug_for("Lost & Found", taken) == "lost-found"
    assert board_actions.slug_for("Café Życie", taken) == "cafe-zycie"
    assert board_actions.slug_for("Talk", taken) == "talk-2"
    assert board_actions.slug_for("宠物", taken) == "board-1"
    assert board_actions.slug_for("3号楼", taken | {"board-1"}) == "board-2"
    assert board_actions.slug_for("x" * 40, taken) == "x" * 34
    assert board_actions.slug_for("../../etc", taken) == "etc"
