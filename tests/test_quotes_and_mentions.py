"""Quoting a reply and @mentioning a neighbour, on both databases."""

from __future__ import annotations

import json
import re

from quart import Quart
from sqlalchemy import select
from sqlmodel import col

from forum.db import Database
from forum.markup import _sanitise, mentioned_usernames, quote_markdown, render_markdown
from forum.models import Event, Post
from tests.factories import make_community, make_member, make_pending, make_reply, make_thread, make_user
from tests.helpers import login, post_form, text


def test_mentions_are_found_in_chinese_text_but_not_in_addresses_or_code_and_only_known_names_link() -> None:
    body = "谢谢@wang_fang的帮助，也谢谢 @Li_Na. 邮件 li@example.com，@nobody_here"
    assert mentioned_usernames(body) == ["wang_fang", "li_na", "nobody_here"]
    html = render_markdown(
        body + "\n\n`@wang_fang` [@wang_fang](https://example.com)", frozenset({"wang_fang", "li_na"})
    )
    assert '谢谢<a href="/u/wang_fang" class="mention"' in html
    assert '<a href="/u/li_na" class="mention"' in html and ">@Li_Na</a>." in html
    assert "@nobody_here" in html and "/u/nobody_here" not in html
    assert "<code>@wang_fang</code>" in html  # code stays code
    assert html.count('class="mention"') == 2  # the link text inside a link is not linked again
    # Raw HTML is text; and should markdown-it ever pass a class through, the sanitiser keeps only the mark.
    assert "&lt;a class" in render_markdown('<a class="evil" href="/x">x</a>')
    assert 'class="mention"' in _sanitise('<a class="evil mention" href="/x">x</a>')
    assert "evil" not in _sanitise('<a class="evil mention" href="/x">x</a><p class="mention">y</p>')


def test_a_quote_drops_earlier_quotes_and_cuts_a_long_post() -> None:
    quoted = quote_markdown("> 更早的引用\n电梯修好了\n\n\n\n谢谢物业", username="li_na", label="#2", url="/t/1/p/3")
    assert quoted == "> @li_na [#2](/t/1/p/3):\n> 电梯修好了\n>\n> 谢谢物业\n\n"
    long = quote_markdown("词 " * 600, username="li_na", label="#2", url="/t/1/p/3")
    assert len(long) < 500 and long.rstrip().endswith("…")


async def test_a_mention_of_a_member_links_to_their_profile_and_others_stay_text(app: Quart, db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    author = await make_user(db, username="mention_author")
    neighbour = await make_user(db, username="mention_target", display_name="王芳")
    stranger = await make_user(db, username="mention_stranger")
    for user in (author, neighbour):
        await make_member(db, user=user, community=community)
    await make_member(db, user=stranger, community=elsewhere)
    await make_pending(db, user=await make_user(db, username="mention_pending"), community=community)
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(
        db, author=author, thread=thread, body="@mention_target 你好，@mention_stranger 和 @mention_pending 看不到"
    )
    assert '<a href="/u/mention_target" class="mention"' in reply.body_html
    assert "/u/mention_stranger" not in reply.body_html and "/u/mention_pending" not in reply.body_html
    async with db.read_only() as session:
        event = (
            (
                await session.execute(
                    select(Event).where(col(Event.type) == "post.created").order_by(col(Event.id).desc())
                )
            )
            .scalars()
            .first()
        )
    assert event is not None and "/u/mention_target" in json.loads(event.payload)["body_html"]  # live readers too

    # Editing resolves mentions again.
    client = app.test_client()
    await login(client, "mention_author")
    response = await post_form(client, f"/posts/{reply.id}/edit", {"body": "改成提到 @mention_author"})
    assert response.status_code == 302  # type: ignore[attr-defined]
    async with db.read_only() as session:
        stored = await session.get(Post, reply.id)
    assert stored is not None and "/u/mention_author" in stored.body_html and "mention_target" not in stored.body_html


async def test_quoting_fills_the_reply_box_with_and_without_scripts(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="quoted_author")
    reader = await make_user(db, username="quoting_reader")
    for user in (author, reader):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community, body="> 别人的话\n明早停电 <b>两小时</b>")
    reply = await make_reply(db, author=author, thread=thread, body="物业说九点开始")
    client = app.test_client()
    await login(client, "quoting_reader")

    response = await client.get(f"/posts/{reply.id}/quote", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert (await response.get_json())[
        "markdown"
    ] == f"> @quoted_author [#1](/t/{thread.id}/p/2):\n> 物业说九点开始\n\n"

    # Without scripts, the link lands on the last page with the reply box filled in.
    async with db.read_only() as session:
        opening = (
            await session.execute(select(Post).where(col(Post.thread_id) == thread.id, col(Post.number) == 1))
        ).scalar_one()
    response = await client.get(f"/posts/{opening.id}/quote")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert f"/t/{thread.id}?quote=1#reply-heading" in location
    page = await text(await client.get(location.split("#")[0]))
    box = re.search(r'<textarea id="f-body"[^>]*>(.*?)</textarea>', page, re.S)
    assert box is not None
    # Escaped inside the textarea, labelled with the thread title, without the quote the post itself quoted.
    assert (
        box.group(1)
        == f"&gt; @quoted_author [快递柜坏了](/t/{thread.id}/p/1):\n&gt; 明早停电 &lt;b&gt;两小时&lt;/b&gt;\n\n"
    )
    assert 'class="quote"' in page


async def test_quoting_follows_the_threads_access_rules(app: Quart, db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    author = await make_user(db, username="quote_rules_author")
    await make_member(db, user=author, community=community)
    await make_member(db, user=await make_user(db, username="quote_outsider"), community=elsewhere)
    await make_pending(db, user=await make_user(db, username="quote_applicant"), community=community)
    thread = await make_thread(db, author=author, community=community)
    reply = await make_reply(db, author=author, thread=thread)
    for username, expected in (("quote_outsider", 404), ("quote_applicant", 403)):
        client = app.test_client()
        await login(client, username)
        response = await client.get(f"/posts/{reply.id}/quote", headers={"Accept": "application/json"})
        assert response.status_code == expected, username
        page = await text(await client.get(f"/t/{thread.id}?quote=2"))
        assert "我也遇到了" not in page
    # A deleted post cannot be quoted.
    client = app.test_client()
    await login(client, "quote_rules_author")
    await post_form(client, f"/posts/{reply.id}/delete", {"confirm": "1"})
    response = await client.get(f"/posts/{reply.id}/quote", headers={"Accept": "application/json"})
    assert response.status_code == 404


async def test_mention_suggestions_list_members_by_username_or_name_and_nobody_else(app: Quart, db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    writer = await make_user(db, username="suggest_writer")
    await make_member(db, user=writer, community=community)
    await make_member(db, user=await make_user(db, username="wang_fang_x", display_name="王芳"), community=community)
    await make_member(
        db,
        user=await make_user(db, username="wang_daye", display_name="王大爷"),
        community=community,
        is_party_member=True,
    )
    await make_member(db, user=await make_user(db, username="wang_far", display_name="王远"), community=elsewhere)
    await make_pending(db, user=await make_user(db, username="wang_waiting", display_name="王等"), community=community)
    client = app.test_client()
    await login(client, "suggest_writer")

    async def names(typed: str) -> list[str]:
        response = await client.get(f"/c/{community.slug}/mentions", query_string={"q": typed})
        assert response.status_code == 200
        return [person["username"] for person in (await response.get_json())["people"]]

    assert await names("wang") == ["wang_daye", "wang_fang_x"]
    assert await names("王") == ["wang_daye", "wang_fang_x"]
    assert await names("大爷") == ["wang_daye"]
    assert await names("%") == [] and await names("_") == []  # wildcards are taken literally
    assert await names("") == []
    response = await client.get(f"/c/{community.slug}/mentions", query_string={"q": "大爷"})
    assert (await response.get_json())["people"][0]["is_party_member"] is True

    outsider = app.test_client()
    await login(outsider, "wang_far")
    assert (await outsider.get(f"/c/{community.slug}/mentions?q=wang")).status_code == 404  # they learn nothing
    applicant = app.test_client()
    await login(applicant, "wang_waiting")
    assert (await applicant.get(f"/c/{community.slug}/mentions?q=wang")).status_code == 403


async def _bearer(client: object, username: str) -> dict[str, str]:
    response = await client.post(  # type: ignore[attr-defined]
        "/api/v1/auth/tokens", json={"username": username, "password": "correct horse battery"}
    )
    return {"Authorization": f"Bearer {(await response.get_json())['token']}"}


async def test_the_api_edits_deletes_quotes_searches_and_suggests_like_the_pages(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="api_author")
    other = await make_user(db, username="api_other", display_name="隔壁老王")
    for user in (author, other):
        await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=author, community=community, title="电梯维修", body="三号楼电梯周三维修")
    reply = await make_reply(db, author=author, thread=thread, body="维修师傅下午到")
    client = app.test_client()
    mine, theirs = await _bearer(client, "api_author"), await _bearer(client, "api_other")

    response = await client.put(f"/api/v1/posts/{reply.id}", json={"body": "改了：@api_other 师傅上午到"}, headers=mine)
    assert response.status_code == 200
    edited = await response.get_json()
    assert edited["edited_at"] and '<a href="/u/api_other" class="mention"' in edited["body_html"]
    assert (await client.put(f"/api/v1/posts/{reply.id}", json={"body": "别人改"}, headers=theirs)).status_code == 403
    empty = await client.put(f"/api/v1/posts/{reply.id}", json={"body": "  "}, headers=mine)
    assert empty.status_code == 422 and "body" in (await empty.get_json())["fields"]  # as the other endpoints

    history = await client.get(f"/api/v1/posts/{reply.id}/revisions", headers=mine)
    assert [item["body"] for item in (await history.get_json())["revisions"]] == ["维修师傅下午到"]
    assert (await client.get(f"/api/v1/posts/{reply.id}/revisions", headers=theirs)).status_code == 403

    quote = await (await client.get(f"/api/v1/posts/{reply.id}/quote", headers=theirs)).get_json()
    assert quote["markdown"].startswith(f"> @api_author [#1](/t/{thread.id}/p/2):\n> 改了：@api_other 师傅上午到")

    people = await (
        await client.get(f"/api/v1/communities/{community.slug}/mentions", query_string={"q": "老王"}, headers=mine)
    ).get_json()
    assert [person["username"] for person in people["people"]] == ["api_other"]

    found = await (
        await client.get(f"/api/v1/communities/{community.slug}/search", query_string={"q": "电梯"}, headers=theirs)
    ).get_json()
    assert [hit["thread_id"] for hit in found["hits"]] == [thread.id] and "<mark>" in found["hits"][0]["snippet_html"]
    for hostile in ('"', "电梯 OR", "NEAR(a b)", "'; DROP TABLE post; --", "*"):
        response = await client.get(
            f"/api/v1/communities/{community.slug}/search", query_string={"q": hostile}, headers=mine
        )
        assert response.status_code == 200, hostile

    assert (await client.delete(f"/api/v1/posts/{reply.id}", headers=theirs)).status_code == 403
    assert (await client.delete(f"/api/v1/posts/{reply.id}", headers=mine)).status_code == 204
    posts = (await (await client.get(f"/api/v1/threads/{thread.id}", headers=theirs)).get_json())["posts"]
    assert [(post["number"], post["deleted"], post["body_html"]) for post in posts][1] == (2, True, "")
    assert (await client.get(f"/api/v1/posts/{reply.id}/quote", headers=theirs)).status_code == 404
