"""Full-text search of a community's threads and replies, in Chinese and English.

Chinese has no spaces, so text is segmented with jieba (search mode) before indexing and querying: "快递柜"
is indexed as 快递 / 柜 / 快递柜, and a two-character word finds it. The segmented text is indexed by SQLite
FTS5 (table `post_fts`) or a PostgreSQL tsvector with the 'simple' configuration and a GIN index (table
`post_search`). Neither table is an ORM model: they exist on one database each, created by the migration.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import jieba
from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from forum.markup import excerpt, plain_text
from forum.offload import text_work
from forum.sqlite_driver import long_reads

jieba.setLogLevel(logging.WARNING)
_WORD = re.compile(r"\w", re.UNICODE)
MAX_QUERY_TERMS = 12
QUERY_MAX = 200  # characters of a query that are read
# Only the newest this-many matches are ranked (see `search`).
CANDIDATES = 300


def initialize() -> None:
    """Load jieba's dictionary (about 0.6 s); call once at start-up, off the event loop."""
    jieba.initialize()


def segment(value: str) -> list[str]:
    """Search-mode tokens, lower-cased, without punctuation or whitespace."""
    return [token.lower() for token in jieba.cut_for_search(value) if _WORD.search(token)]


def document(title: str | None, body: str) -> str:
    """What is indexed for a post: its segmented text. Markdown parsing and jieba both cost CPU: from the event
    loop, call `document_of`."""
    return " ".join(segment(f"{title or ''} {plain_text(body)}"))


async def document_of(title: str | None, body: str) -> str:
    """`document`, off the event loop if the text is long (forum.offload)."""
    return await text_work(len(body) + len(title or ""), document, title, body)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def index_post(session: AsyncSession, *, post_id: int, indexed: str) -> None:
    """(Re)index a post as `indexed`, its `document_of` (the opening post's carries its thread's title, so titles
    are found too). Made before the write that takes the database's write lock, so the lock is not held over it."""
    if _is_postgres(session):
        await session.execute(
            text(
                "INSERT INTO post_search (post_id, document) VALUES (:id, to_tsvector('simple', :doc)) "
                "ON CONFLICT (post_id) DO UPDATE SET document = excluded.document"
            ),
            {"id": post_id, "doc": indexed},
        )
    else:
        await session.execute(text("DELETE FROM post_fts WHERE rowid = :id"), {"id": post_id})
        await session.execute(
            text("INSERT INTO post_fts (rowid, document) VALUES (:id, :doc)"), {"id": post_id, "doc": indexed}
        )


async def unindex_post(session: AsyncSession, *, post_id: int) -> None:
    table, column = ("post_search", "post_id") if _is_postgres(session) else ("post_fts", "rowid")
    await session.execute(text(f"DELETE FROM {table} WHERE {column} = :id"), {"id": post_id})  # noqa: S608 -- fixed names


# The inner select takes the newest CANDIDATES matches in the community; the outer one ranks them.
_POSTGRES_SEARCH = text(
    "SELECT p.id, p.thread_id, p.number, t.title, p.body FROM "
    "(SELECT s.post_id, s.document FROM post_search s "
    "JOIN post p ON p.id = s.post_id JOIN thread t ON t.id = p.thread_id "
    "WHERE t.community_id = :community AND NOT t.is_deleted AND t.hidden_at IS NULL "
    "AND p.deleted_at IS NULL AND p.hidden_at IS NULL "
    "AND s.document @@ plainto_tsquery('simple', :query) ORDER BY s.post_id DESC LIMIT :candidates) c "
    "JOIN post p ON p.id = c.post_id JOIN thread t ON t.id = p.thread_id "
    "ORDER BY ts_rank(c.document, plainto_tsquery('simple', :query)) DESC, p.id DESC LIMIT :limit"
)
_SQLITE_SEARCH = text(
    "SELECT p.id, p.thread_id, p.number, t.title, p.body FROM "
    "(SELECT f.rowid AS post_id, f.rank AS rank FROM post_fts f "
    "JOIN post p ON p.id = f.rowid JOIN thread t ON t.id = p.thread_id "
    "WHERE t.community_id = :community AND NOT t.is_deleted AND t.hidden_at IS NULL "
    "AND p.deleted_at IS NULL AND p.hidden_at IS NULL "
    "AND post_fts MATCH :match ORDER BY f.rowid DESC LIMIT :candidates) c "
    "JOIN post p ON p.id = c.post_id JOIN thread t ON t.id = p.thread_id "
    "ORDER BY c.rank, p.id DESC LIMIT :limit"
)


@dataclass(frozen=True)
class Hit:
    post_id: int
    thread_id: int
    number: int
    title: str
    snippet: Markup  # escaped text with <mark> around the matched words


def _snippet(body: str, terms: list[str]) -> Markup:
    """Escape first, then mark: user text never reaches the page unescaped."""
    plain = plain_text(body)
    lowered = plain.lower()
    first = min((lowered.find(term) for term in terms if term in lowered), default=0)
    start = max(0, first - 30)
    window = excerpt(plain[start:], 140)
    escaped = str(escape(window))
    for term in sorted(set(terms), key=len, reverse=True):
        escaped_term = str(escape(term))
        escaped = re.sub(re.escape(escaped_term), lambda m: f"<mark>{m.group(0)}</mark>", escaped, flags=re.IGNORECASE)
    escaped = re.sub(r"<mark>(<mark>)+", "<mark>", escaped)
    escaped = re.sub(r"(</mark>)+", "</mark>", escaped)
    return Markup(escaped)  # noqa: S704 -- built from escaped text and our own <mark> tags only


async def search(session: AsyncSession, *, community_id: int, query: str, limit: int = 30) -> list[Hit]:
    """Posts of the community matching every word of `query`, best first among the newest CANDIDATES matches.
    Any input is safe: each term is passed as a bound parameter, quoted for FTS5, so operators and syntax in the
    query are just text.

    Ranking every match of a common word reads every matching row: 1.6 s for "the" among a million posts.
    Taking the newest matches first lets the database walk the posts newest-first and stop early for common
    words, or use the full-text index for rare ones; only those candidates are ranked."""
    read = query[:QUERY_MAX]
    terms = list(dict.fromkeys(await text_work(len(read), segment, read)))[:MAX_QUERY_TERMS]
    if not terms:
        return []
    parameters: dict[str, object] = {"community": community_id, "candidates": CANDIDATES, "limit": limit}
    if _is_postgres(session):
        statement = _POSTGRES_SEARCH
        parameters["query"] = " ".join(terms)
    else:
        statement = _SQLITE_SEARCH
        parameters["match"] = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
    with long_reads():  # ranking may read many rows: off the event loop on SQLite
        rows = (await session.execute(statement, parameters)).all()
    return [Hit(row[0], row[1], row[2], row[3], _snippet(row[4], terms)) for row in rows]
