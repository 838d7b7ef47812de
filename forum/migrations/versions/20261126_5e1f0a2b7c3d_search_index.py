"""search index: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL

Revision ID: 5e1f0a2b7c3d
Revises: 89f1f7a8ae1e
Create Date: 2026-11-26 19:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0a2b7c3d"
down_revision: str | None = "89f1f7a8ae1e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE post_search ("
            " post_id INTEGER PRIMARY KEY REFERENCES post (id) ON DELETE CASCADE,"
            " document tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX ix_post_search_document ON post_search USING GIN (document)")
    else:
        # The document is jieba-segmented text: unicode61 then splits on the spaces between words.
        op.execute("CREATE VIRTUAL TABLE post_fts USING fts5(document, tokenize = 'unicode61')")
    _index_existing_posts(connection)


def _index_existing_posts(connection: sa.Connection) -> None:
    from forum.markup import plain_text
    from forum.search import segment

    rows = connection.execute(
        sa.text("SELECT p.id, CASE WHEN p.number = 1 THEN t.title ELSE '' END, p.body FROM post p JOIN thread t ON t.id = p.thread_id")
    ).all()
    for post_id, title, body in rows:
        document = " ".join(segment(f"{title} {plain_text(body)}"))
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("INSERT INTO post_search (post_id, document) VALUES (:id, to_tsvector('simple', :doc))"),
                {"id": post_id, "doc": document},
            )
        else:
            connection.execute(sa.text("INSERT INTO post_fts (rowid, document) VALUES (:id, :doc)"), {"id": post_id, "doc": document})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE post_search")
    else:
        op.execute("DROP TABLE post_fts")
