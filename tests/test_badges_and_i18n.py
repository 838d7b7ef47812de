"""The party-flag badge wherever a name is shown, and both languages."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from quart import Quart

from forum.db import Database
from forum.models import Role
from tests.factories import make_community, make_district_admin, make_member, make_user
from tests.helpers import login, post_form, text

BADGE = 'class="badge-party"'


def _badge_after(page: str, name: str) -> bool:
    """Whether the person macro rendered `name` with the badge right after it."""
    return (
        re.search(re.escape(name) + r"</a>\s*<span " + re.escape(BADGE), page) is not None
        or re.search(re.escape(name) + r"\s*<span " + re.escape(BADGE), page) is not None
    )


async def test_a_granted_badge_shows_beside_the_name_in_pages_and_api(app: Quart, db: Database) -> None:
    community = await make_community(db)
    secretary = await make_user(db, username="badge_secretary", display_name="李书记")
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY, is_party_member=True)
    member_user = await make_user(db, username="party_member", display_name="张党员")
    membership = await make_member(db, user=member_user, community=community)

    office = app.test_client()
    await login(office, "badge_secretary")
    community_page = await text(await office.get(f"/c/{community.slug}"))
    assert _badge_after(community_page, "李书记")
    members_page = await text(await office.get(f"/c/{community.slug}/members"))
    assert not _badge_after(members_page, "张党员")

    await post_form(office, f"/memberships/{membership.id}/party", {"value": "1"})
    members_page = await text(await office.get(f"/c/{community.slug}/members"))
    assert _badge_after(members_page, "张党员")
    assert 'aria-label="党员"' in members_page
    profile_page = await text(await office.get("/u/party_member"))
    assert _badge_after(profile_page, "张党员")

    api = await office.get(f"/api/v1/communities/{community.slug}/members")
    people = {m["person"]["username"]: m["person"] for m in (await api.get_json())["members"]}
    assert people["party_member"]["is_party_member"] is True
    assert people["badge_secretary"]["is_party_member"] is True
    details = await (await office.get(f"/api/v1/communities/{community.slug}")).get_json()
    assert details["secretaries"] == [
        {"id": secretary.id, "username": "badge_secretary", "display_name": "李书记", "is_party_member": True}
    ]

    await post_form(office, f"/memberships/{membership.id}/party", {"value": "0"})
    assert not _badge_after(await text(await office.get("/u/party_member")), "张党员")


async def test_a_profile_shows_only_communities_the_viewer_shares(app: Quart, db: Database) -> None:
    home, elsewhere = await make_community(db, name="甲小区"), await make_community(db, name="乙小区")
    person = await make_user(db, username="private_person")
    await make_member(db, user=person, community=home)
    await make_member(db, user=person, community=elsewhere, is_party_member=True)
    viewer = await make_user(db, username="nosy")
    await make_member(db, user=viewer, community=home)
    client = app.test_client()
    await login(client, "nosy")
    page = await text(await client.get("/u/private_person"))
    assert "甲小区" in page and "乙小区" not in page
    # The badge belongs to the other community, which this viewer cannot see.
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert BADGE not in main
    admin = await make_user(db, username="admin_view")
    await make_district_admin(db, user=admin, district_id=elsewhere.district_id)
    admin_client = app.test_client()
    await login(admin_client, "admin_view")
    assert "乙小区" in await text(await admin_client.get("/u/private_person"))


async def test_pages_speak_chinese_by_default_and_english_on_request(app: Quart, db: Database) -> None:
    client = app.test_client()
    page = await text(await client.get("/login"))
    assert '<html lang="zh-Hans" ' in page and "登录" in page
    english = await text(await client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert '<html lang="en" ' in english and "Log in" in english and "登录" not in english.split("<footer")[0]
    chinese = await text(await client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert "登录" in chinese

    # The footer switch sets a cookie for visitors, and the setting for signed-in users.
    response = await post_form(client, "/language", {"locale": "en", "next": "/login"})
    assert response.headers["Location"] == "/login"
    assert "Log in" in await text(await client.get("/login"))

    await make_user(db, username="bilingual")
    member = app.test_client()
    await login(member, "bilingual")
    await post_form(member, "/settings/profile", {"display_name": "双语", "locale": "en"}, token_from="/settings")
    assert "My communities" in await text(await member.get("/", headers={"Accept-Language": "zh-CN"}))
    await post_form(member, "/settings/profile", {"display_name": "双语", "locale": "zh_Hans"}, token_from="/settings")
    assert "我的社区" in await text(await member.get("/", headers={"Accept-Language": "en"}))


async def test_errors_are_translated_in_the_api_too(app: Quart) -> None:
    client = app.test_client()
    zh = await client.post("/api/v1/auth/register", json={"username": "x", "password": "y", "display_name": ""})
    en = await client.post(
        "/api/v1/auth/register",
        json={"username": "x", "password": "y", "display_name": ""},
        headers={"Accept-Language": "en"},
    )
    assert zh.status_code == en.status_code == 422
    zh_fields, en_fields = (await zh.get_json())["fields"], (await en.get_json())["fields"]
    assert set(zh_fields) == set(en_fields) == {"username", "password", "display_name"}
    assert en_fields["display_name"] == "This field is required."
    assert zh_fields["display_name"] != en_fields["display_name"]


def test_every_user_facing_string_has_a_chinese_translation() -> None:
    root = Path(__file__).resolve().parent.parent
    method_map = [("forum/**.py", "python"), ("realtime/**.py", "python"), ("templates/**.html", "jinja2")]
    # The same Jinja extensions as babel.cfg (and the app): with one missing, the extractor silently skips
    # every template that uses it, and its strings drop out of the catalog at the next `make messages`.
    extensions = next(
        line.split("=", 1)[1].strip() for line in (root / "babel.cfg").read_text().splitlines() if "extensions" in line
    )
    options = {"templates/**.html": {"extensions": extensions}}
    found = set()
    sources = set()
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(root), method_map, options, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
        sources.add(filename)
    with_strings = {
        str(path.relative_to(root)) for path in (root / "templates").rglob("*.html") if "_(" in path.read_text()
    }
    assert with_strings <= sources, f"templates the extractor could not read: {sorted(with_strings - sources)}"
    with (root / "forum/translations/zh_Hans/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and (m.string[0] if isinstance(m.string, tuple) else m.string)
    }
    missing = sorted(found - translated)
    assert not missing, f"untranslated (run `make messages`, then translate): {missing}"
