"""The floor for page benchmarks: a bare Quart route that fetches the same members with one SQLAlchemy Core
select and renders them with Jinja2. No sessions, CSRF, i18n or access checks: what Linli's page costs above
this is the price of those."""

from __future__ import annotations

import os

from jinja2 import Template
from quart import Quart
from sqlalchemy import text

from forum.db import create_engine

app = Quart(__name__)
TEMPLATE = Template(
    "<!doctype html><html><body><h1>{{ name }}</h1><ul>{% for row in rows %}"
    "<li>{{ row.display_name }} {{ row.building }}-{{ row.room }}{% if row.is_party_member %} *{% endif %}</li>"
    "{% endfor %}</ul></body></html>",
    autoescape=True,
)
QUERY = text(
    "SELECT u.display_name, m.building, m.room, m.is_party_member FROM membership m "
    'JOIN "user" u ON u.id = m.user_id JOIN community c ON c.id = m.community_id '
    "WHERE c.slug = :slug AND m.status = 'verified' ORDER BY m.building, m.room"
)


@app.before_serving
async def start() -> None:
    app.config["engine"] = create_engine(os.environ["DATABASE_URL"])


@app.get("/floor/<slug>")
async def floor(slug: str) -> str:
    async with app.config["engine"].connect() as connection:
        rows = (await connection.execute(QUERY, {"slug": slug})).all()
    return TEMPLATE.render(name=slug, rows=rows)
