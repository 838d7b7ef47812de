"""message flags

Revision ID: c6e0a4b8d139
Revises: b5d9f3a7c028
Create Date: 2026-12-05 19:24:22.616071
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 -- autogenerate may emit sqlmodel types
from alembic import op

import forum.timeutil  # noqa: F401 -- UTCDateTime


revision: str = 'c6e0a4b8d139'
down_revision: str | None = 'b5d9f3a7c028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ONE_OF_THREE = (
    "(CASE WHEN post_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN letter_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN listing_id IS NULL THEN 0 ELSE 1 END) = 1"
)
ONE_OF_FOUR = ONE_OF_THREE.removesuffix(" = 1") + " + (CASE WHEN message_id IS NULL THEN 0 ELSE 1 END) = 1"


def upgrade() -> None:
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_flag_message_reporter', ['message_id', 'reporter_id'])
        batch_op.create_foreign_key(batch_op.f('fk_flag_message_id_message'), 'message', ['message_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('ck_flag_one_item'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_flag_one_item'), ONE_OF_FOUR)

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_at', forum.timeutil.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hidden_reason', sqlmodel.sql.sqltypes.AutoString(length=500), server_default='', nullable=False))

    # Reports of private messages become flags ("something else", with the report's words as the note); one a
    # secretary marked reviewed is a flag closed as kept.
    op.execute(
        "INSERT INTO flag (community_id, message_id, reporter_id, reason, note, created_at, resolved_at, outcome)"
        " SELECT community_id, message_id, reporter_id, 'other', reason, created_at, resolved_at,"
        " CASE WHEN resolved_at IS NULL THEN '' ELSE 'disagreed' END FROM message_report"
    )
    with op.batch_alter_table('message_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_report_open'))
    op.drop_table('message_report')


def downgrade() -> None:
    op.create_table('message_report',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('message_id', sa.INTEGER(), nullable=False),
    sa.Column('reporter_id', sa.INTEGER(), nullable=True),
    sa.Column('community_id', sa.INTEGER(), nullable=False),
    sa.Column('reason', sa.VARCHAR(length=500), nullable=False),
    sa.Column('created_at', forum.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', forum.timeutil.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.INTEGER(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_message_report_community_id_community'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_message_report_message_id_message'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['user.id'], name=op.f('fk_message_report_reporter_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['user.id'], name=op.f('fk_message_report_resolved_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_report')),
    sa.UniqueConstraint('message_id', 'reporter_id', name=op.f('uq_message_report_reporter'))
    )
    with op.batch_alter_table('message_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_report_open'), ['community_id', 'resolved_at'], unique=False)
    op.execute(
        "INSERT INTO message_report (message_id, reporter_id, community_id, reason, created_at, resolved_at)"
        " SELECT message_id, reporter_id, community_id, note, created_at, resolved_at FROM flag"
        " WHERE message_id IS NOT NULL"
    )
    op.execute("DELETE FROM flag WHERE message_id IS NOT NULL")

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('hidden_reason')
        batch_op.drop_column('hidden_at')

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_flag_one_item'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_flag_one_item'), ONE_OF_THREE)
        batch_op.drop_constraint(batch_op.f('fk_flag_message_id_message'), type_='foreignkey')
        batch_op.drop_constraint('uq_flag_message_reporter', type_='unique')
        batch_op.drop_column('message_id')
