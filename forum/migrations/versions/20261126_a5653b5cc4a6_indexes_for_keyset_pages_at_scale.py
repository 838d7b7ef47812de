"""indexes for keyset pages at scale

A board page is one range of (board_id, last_posted_at, id) at any depth. The single-column indexes on
post.thread_id and thread.board_id are covered by composite ones, and with them PostgreSQL read a whole long
thread to sort one page of it; with the one on thread.last_posted_at (which no query orders by alone) it
walked all boards' threads to find a small board's (measured on 100,000 threads and 1,000,000 replies, see
docs/performance.md).

Revision ID: a5653b5cc4a6
Revises: 98358319b44d
Create Date: 2026-11-26 21:06:09.712772
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 -- autogenerate may emit sqlmodel types
from alembic import op

import forum.timeutil  # noqa: F401 -- UTCDateTime


revision: str = 'a5653b5cc4a6'
down_revision: str | None = '98358319b44d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_thread_id'))

    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_thread_board_id'))
        batch_op.drop_index(batch_op.f('ix_thread_board_last_posted'))
        batch_op.drop_index(batch_op.f('ix_thread_last_posted_at'))
        batch_op.create_index('ix_thread_board_last_posted_id', ['board_id', 'last_posted_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.drop_index('ix_thread_board_last_posted_id')
        batch_op.create_index(batch_op.f('ix_thread_last_posted_at'), ['last_posted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_thread_board_last_posted'), ['board_id', 'last_posted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_thread_board_id'), ['board_id'], unique=False)

    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_thread_id'), ['thread_id'], unique=False)
