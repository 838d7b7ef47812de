"""Search in Chinese and English, ranked, highlighted, scoped to the community, safe with any input."""

from __future__ import annotations

from quart import Quart

from forum.db import Database
from tests.factories import make_community, make_member, make_reply, make_thread, make_user
from tests.helpers import login, post_form, text


async def test_two_character_chinese_words_and_english_find_posts_in_this_community_only(
    app: Quart, db: Database
) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    author = await make_user(db, username="searcher")
    await make_member(db, user=author, community=community)
    other = await make_user(db)
    await make_member(db, user=other, community=elsewhere)
    thread = await make_thread(db, author=author, community=community, title="楼下快递柜坏了", body="谁知道怎么报修？")
    await make_reply(db, author=author, thread=thread, body="Does anyone have a LADDER? <b>bold</b> 快递")
    await make_thread(db, author=other, community=elsewhere, title="快递柜也坏了", body="别的小区")
    client = app.test_client()
    await login(client, "searcher")

    async def results(query: str) -> str:
        response = await client.get(f"/c/{community.slug}/search", query_string={"q": query})
        assert response.status_code == 200, query
        return (await text(response)).split("<main", 1)[1]

    page = await results("快递")
    assert "楼下快递柜坏了" in page and "<mark>快递</mark>" in page and "别的小区" not in page
    assert "2 个结果" in page or "2 results" in page
    assert "报修" in await results("报修")
    page = await results("ladder")
    assert "<mark>LADDER</mark>" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "0 个结果" in await results("停车")


async def test_edits_and_deletions_are_reflected_in_search(app: Quart, db: Database) -> None:
    community = await make_community(db)
    client = app.test_client()
    await make_member(db, user=await make_user(db, username="reviser"), community=community)
    await login(client, "reviser")
    board = f"/c/{community.slug}/b/talk"
    created = await post_form(client, f"{board}/threads", {"title": "周末活动", "body": "打羽毛球"}, token_from=board)
    thread_url = created.headers["Location"]
    search = f"/c/{community.slug}/search"
    assert "周末活动" in await text(await client.get(search, query_string={"q": "羽毛球"}))
    post_id = (await text(await client.get(thread_url))).split('data-post-id="', 1)[1].split('"', 1)[0]
    await post_form(client, f"/posts/{post_id}/edit", {"body": "改成打乒乓球"}, token_from=thread_url)
    assert "0 个结果" in await text(await client.get(search, query_string={"q": "羽毛球"}))
    assert "周末活动" in await text(await client.get(search, query_string={"q": "乒乓球"}))
    await post_form(client, f"/posts/{post_id}/delete", {"confirm": "1"}, token_from=thread_url)
    assert "0 个结果" in await text(await client.get(search, query_string={"q": "乒乓球"}))


async def test_query_syntax_and_odd_input_never_break_search(app: Quart, db: Database) -> None:
    community = await make_community(db)
    author = await make_user(db, username="odd_searcher")
    await make_member(db, user=author, community=community)
    await make_thread(db, author=author, community=community, title="c++ 和 foo-bar", body="AND OR NOT NEAR")
    client = app.test_client()
    await login(client, "odd_searcher")
    for query in (
        '"',
        '"foo" AND OR NEAR(',
        "c++",
        "foo-bar",
        "*",
        "'; DROP TABLE post; --",
        "NOT",
        "a" * 500,
        "%",
        "\\",
        "^",
        "🙂",
        "(((",
        "：，。",
    ):
        response = await client.get(f"/c/{community.slug}/search", query_string={"q": query})
        assert response.status_code == 200, query
    assert "foo-bar" in await text(await client.get(f"/c/{community.slug}/search", query_string={"q": "foo-bar"}))
    await make_user(db, username="search_outsider")
    outsider = app.test_client()
    await login(outsider, "search_outsider")
    assert (await outsider.get(f"/c/{community.slug}/search", query_string={"q": "foo"})).status_code == 404
