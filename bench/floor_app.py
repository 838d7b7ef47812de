"""The floor for page benchmarks: bare Quart routes that fetch the same rows as a Linli page with one SQLAlchemy
Core select and render them with Jinja2. No sessions, CSRF, i18n or access checks: what Linli's page costs above
this is the price of those.

The engine is SQLAlchemy's as it comes (`create_async_engine(url)`), which is what the issue's floor is. With
FLOOR_ENGINE=linli it is Linli's own (`forum.db.create_engine`: on SQLite, forum.sqlite_driver), so that a run
also shows how much of a page's speed is the driver's rather than the page's."""

from __future__ import annotations

import os

from jinja2 import Template
from quart import Quart
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from forum.db import create_engine

app = Quart(__name__)
MEMBERS = Template(
    "<!doctype html><html><body><h1>{{ name }}</h1><ul>{% for row in rows %}"
    "<li>{{ row.display_name }} {{ row.building }}-{{ row.room }}{% if row.is_party_member %} *{% endif %}</li>"
    "{% endfor %}</ul></body></html>",
    autoescape=True,
)
MEMBERS_QUERY = text(
    "SELECT u.display_name, m.building, m.room, m.is_party_member FROM membership m "
    'JOIN "user" u ON u.id = m.user_id JOIN community c ON c.id = m.community_id '
    "WHERE c.slug = :slug AND m.status = 'verified' ORDER BY m.building, m.room"
)
# The thread page's 50 posts with their authors (and badges in the thread's community) and like counts.
THREAD = Template(
    "<!doctype html><html><body><h1>{{ title }}</h1>{% for row in rows %}"
    '<article class="post" id="post-{{ row.number }}"><header><a href="/u/{{ row.username }}">'
    "{{ row.display_name }}</a>{% if row.is_party_member %} *{% endif %} <time>{{ row.created_at }}</time></header>"
    '<div class="post-body">{{ row.body_html|safe }}</div><footer>{{ row.like_count }}</footer></article>'
    "{% endfor %}</body></html>",
    autoescape=True,
)
THREAD_QUERY = text(
    "SELECT t.title, p.number, p.body_html, p.like_count, p.created_at, u.username, u.display_name, "
    "m.is_party_member FROM post p JOIN thread t ON t.id = p.thread_id "
    'LEFT JOIN "user" u ON u.id = p.author_id '
    "LEFT JOIN membership m ON m.user_id = u.id AND m.community_id = t.community_id "
    "WHERE p.thread_id = :thread AND p.number > 0 ORDER BY p.number LIMIT 50"
)


@app.before_serving
async def start() -> None:
    url = os.environ["DATABASE_URL"]
    app.config["engine"] = create_engine(url) if os.environ.get("FLOOR_ENGINE") == "linli" else create_async_engine(url)


@app.get("/floor/<slug>")
async def floor(slug: str) -> str:
    async with app.config["engine"].connect() as connection:
        rows = (await connection.execute(MEMBERS_QUERY, {"slug": slug})).all()
    return MEMBERS.render(name=slug, rows=rows)


@app.get("/floor/thread/<int:thread_id>")
async def floor_thread(thread_id: int) -> str:
    async with app.config["engine"].connect() as connection:
        rows = (await connection.execute(THREAD_QUERY, {"thread": thread_id})).all()
    return THREAD.render(title=rows[0].title if rows else "", rows=rows)
