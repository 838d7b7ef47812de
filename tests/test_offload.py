"""Text work (Markdown, jieba) runs on the loop when short and in a thread when long, and always before the
action's first write, so no database write lock is held over it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event

from forum import search
from forum.access import standing_in
from forum.actions import threads as thread_actions
from forum.db import Database
from forum.offload import INLINE_CHARS, text_work
from tests.factories import make_community, make_member, make_reply, make_thread, make_user


async def test_short_text_is_worked_on_the_loop_and_long_text_in_a_thread() -> None:
    here = threading.get_ident()
    assert await text_work(INLINE_CHARS, threading.get_ident) == here
    assert await text_work(INLINE_CHARS + 1, threading.get_ident) != here
    assert await text_work(3, lambda a, *, b: a + b, 1, b=2) == 3


@pytest.mark.parametrize("length", [20, INLINE_CHARS * 3])
async def test_a_replys_text_work_comes_before_its_first_write_and_edits_too(
    db: Database, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    community = await make_community(db)
    author = await make_user(db)
    await make_member(db, user=author, community=community)
    steps: list[str] = []

    def recording(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            steps.append(name)
            return function(*args, **kwargs)

        return wrapper

    def statement(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            steps.append("write")

    monkeypatch.setattr(thread_actions, "render_markdown", recording("render", thread_actions.render_markdown))
    monkeypatch.setattr(search, "document", recording("segment", search.document))
    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    text = "快递柜满了" * (length // 5)

    def worked_first() -> bool:
        done = steps[:2] == ["render", "segment"] and "write" in steps[2:] and "render" not in steps[2:]
        steps.clear()
        return done

    try:
        thread = await make_thread(db, author=author, community=community, body=text)
        assert worked_first()
        post = await make_reply(db, author=author, thread=thread, body=text)
        assert worked_first()
        async with db.unit_of_work() as session:
            standing = await standing_in(session, author, community)
            loaded = await session.get(type(post), post.id)
            assert loaded is not None
            await thread_actions.edit_post(session, actor=author, post=loaded, standing=standing, body="改了" + text)
        assert worked_first()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", statement)
