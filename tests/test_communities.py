"""Joining a community with its code, the secretary's verification, and the QR poster."""

from __future__ import annotations

from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.models import AuditEntry, Membership, MembershipStatus, Role
from tests.factories import make_community, make_member, make_user
from tests.helpers import csrf_token, login, post_form, text


async def test_a_resident_joins_with_the_code_and_a_secretary_verifies(app: Quart, db: Database) -> None:
    community = await make_community(db, name="月浦新村居民区")
    secretary = await make_user(db, username="shuji", display_name="李书记")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_user(db, username="resident", display_name="张阿姨")

    resident = app.test_client()
    await login(resident, "resident")
    # The poster code is forgiving about case and separators.
    code = community.join_code
    typed = f"{code[:4].lower()}-{code[4:]}"
    response = await post_form(resident, "/join", {"code": typed})
    assert response.headers["Location"] == f"/join/{code}"
    page = await text(await resident.get(f"/join/{code}"))
    assert "月浦新村居民区" in page
    response = await post_form(resident, f"/join/{code}", {"building": "3", "unit": "2", "room": "402"})
    assert response.status_code == 302
    assert "待审核" in await text(await resident.get(f"/c/{community.slug}"))

    office = app.test_client()
    await login(office, "shuji")
    members_page = await text(await office.get(f"/c/{community.slug}/members"))
    assert "张阿姨" in members_page and "402" in members_page
    async with db.read_only() as session:
        membership = (
            await session.execute(select(Membership).where(Membership.status == MembershipStatus.PENDING))
        ).scalar_one()
    response = await post_form(office, f"/memberships/{membership.id}/verify")
    assert response.status_code == 302

    assert "已认证居民" in await text(await resident.get(f"/c/{community.slug}"))
    async with db.read_only() as session:
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "membership.verified"))
        ).scalar_one()
    assert entry.actor_id == secretary.id and entry.target_user_id == membership.user_id


async def test_a_signed_out_visitor_who_scans_the_poster_is_sent_back_after_registering(
    app: Quart, db: Database
) -> None:
    community = await make_community(db, name="罗泾村")
    client = app.test_client()
    page = await text(await client.get(f"/join/{community.join_code}"))
    assert "罗泾村" in page and f"next=/join/{community.join_code}" in page.replace("%2F", "/")
    response = await post_form(
        client,
        "/register",
        {
            "username": "newbie",
            "password": "a-long-password",
            "display_name": "新邻居",
            "next": f"/join/{community.join_code}",
        },
    )
    assert response.headers["Location"] == f"/join/{community.join_code}"


async def test_a_wrong_join_code_gets_a_clear_404(app: Quart, db: Database) -> None:
    await make_user(db, username="lost")
    client = app.test_client()
    await login(client, "lost")
    response = await client.get("/join/NOPE2345")
    assert response.status_code == 404
    assert "社区码" in await text(response)


async def test_joining_needs_building_and_room_and_stores_nothing_otherwise(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await make_user(db, username="hasty")
    client = app.test_client()
    await login(client, "hasty")
    response = await post_form(client, f"/join/{community.join_code}", {"building": "", "room": "x" * 50})
    assert response.status_code == 422
    assert (await text(response)).count('class="error"') == 2
    async with db.read_only() as session:
        assert (await session.execute(select(Membership))).first() is None


async def test_asking_again_corrects_a_pending_request_and_renews_a_declined_one(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="sec2")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    await make_user(db, username="again")
    client = app.test_client()
    await login(client, "again")
    assert (await post_form(client, f"/join/{community.join_code}", {"building": "1", "room": "1"})).status_code == 302
    # A double tap, or a corrected room number, while still pending: no error, the request is updated.
    assert (await post_form(client, f"/join/{community.join_code}", {"building": "1", "room": "11"})).status_code == 302
    async with db.read_only() as session:
        membership = (
            await session.execute(select(Membership).where(col(Membership.role) == Role.RESIDENT))
        ).scalar_one()
    assert membership.status == MembershipStatus.PENDING and membership.room == "11"

    office = app.test_client()
    await login(office, "sec2")
    await post_form(office, f"/memberships/{membership.id}/reject")
    assert "申请未通过" in await text(await client.get(f"/c/{community.slug}"))
    assert (await post_form(client, f"/join/{community.join_code}", {"building": "1", "room": "2"})).status_code == 302
    async with db.read_only() as session:
        again = await session.get(Membership, membership.id)
        assert again is not None and again.status == MembershipStatus.PENDING and again.room == "2"

    await post_form(office, f"/memberships/{membership.id}/verify")
    # Once verified, there is nothing to ask for.
    response = await post_form(client, f"/join/{community.join_code}", {"building": "9", "room": "9"})
    assert response.status_code == 409
    async with db.read_only() as session:
        verified = await session.get(Membership, membership.id)
        assert verified is not None and verified.status == MembershipStatus.VERIFIED and verified.room == "2"


async def test_two_join_requests_at_the_same_moment_store_one_and_never_fail(app: Quart, db: Database) -> None:
    import asyncio

    community = await make_community(db)
    await make_user(db, username="double_tap", display_name="双击")
    tabs = [app.test_client(), app.test_client()]
    for tab in tabs:
        await login(tab, "double_tap")
    tokens = [await csrf_token(tab) for tab in tabs]
    responses = await asyncio.gather(
        *(
            tab.post(f"/join/{community.join_code}", form={"building": "1", "room": "1", "csrf_token": token})
            for tab, token in zip(tabs, tokens, strict=True)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([302, 302], [302, 409]), statuses
    for response in responses:
        if response.status_code == 409:
            page = await text(response)
            assert "双击" in page  # the error page still knows who is signed in
    async with db.read_only() as session:
        assert len((await session.execute(select(Membership))).all()) == 1


async def test_the_poster_shows_a_qr_code_of_the_join_link_and_a_new_code_retires_the_old(
    app: Quart, db: Database
) -> None:
    community = await make_community(db, name="友谊居民区")
    secretary = await make_user(db, username="poster_sec")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    client = app.test_client()
    await login(client, "poster_sec")
    page = await text(await client.get(f"/c/{community.slug}/poster"))
    assert "<svg" in page and community.join_code in page
    assert f"http://localhost/join/{community.join_code}" in page
    old_code = community.join_code

    # Without ticking the confirmation nothing changes, and the page says why.
    response = await post_form(client, f"/c/{community.slug}/join-code")
    assert response.status_code == 302
    assert "请勾选确认" in await text(await client.get(f"/c/{community.slug}/poster"))
    assert (await client.get(f"/join/{old_code}")).status_code == 200

    response = await post_form(client, f"/c/{community.slug}/join-code", {"confirm": "1"})
    assert response.status_code == 302
    assert "请重新打印海报" in await text(await client.get(f"/c/{community.slug}/poster"))
    assert (await client.get(f"/join/{old_code}")).status_code == 404
    page = await text(await client.get(f"/c/{community.slug}/poster"))
    assert old_code not in page
    # A mistyped code on the home page comes back to the same form, with the reason and what was typed.
    response = await post_form(client, "/join", {"code": old_code})
    assert response.status_code == 422
    assert f'value="{old_code}"' in await text(response) and 'id="e-code"' in await text(response)


async def test_the_poster_uses_the_public_url_when_one_is_configured(
    db_url: str, tmp_path: object, db: Database
) -> None:
    from forum.app import create_app
    from tests.conftest import app_config

    app = create_app(app_config(db_url, tmp_path, PUBLIC_URL="https://linli.example.org/"))  # type: ignore[arg-type]
    async with app.test_app():
        community = await make_community(db)
        secretary = await make_user(db, username="pub_sec")
        await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
        client = app.test_client()
        await login(client, "pub_sec")
        page = await text(await client.get(f"/c/{community.slug}/poster"))
    assert f"https://linli.example.org/join/{community.join_code}" in page
