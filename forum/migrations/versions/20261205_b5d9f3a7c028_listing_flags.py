"""listing flags

Revision ID: b5d9f3a7c028
Revises: a4c8e2f6b917
Create Date: 2026-12-05 19:17:22.263034
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 -- autogenerate may emit sqlmodel types
from alembic import op

import forum.timeutil  # noqa: F401 -- UTCDateTime


revision: str = 'b5d9f3a7c028'
down_revision: str | None = 'a4c8e2f6b917'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ONE_OF_TWO = "(post_id IS NULL) <> (letter_id IS NULL)"
ONE_OF_THREE = (
    "(CASE WHEN post_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN letter_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN listing_id IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listing_id', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint('uq_flag_listing_reporter', ['listing_id', 'reporter_id'])
        batch_op.create_foreign_key(batch_op.f('fk_flag_listing_id_listing'), 'listing', ['listing_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('ck_flag_one_item'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_flag_one_item'), ONE_OF_THREE)

    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_at', forum.timeutil.UTCDateTime(timezone=True), nullable=True))

    # Reports of listings become flags ("something else", with the report's words as the note), so they wait
    # in the review queue with everything else; open, as no report was ever marked reviewed.
    op.execute(
        "INSERT INTO flag (community_id, listing_id, reporter_id, reason, note, created_at, outcome)"
        " SELECT listing.community_id, listing_report.listing_id, listing_report.reporter_id, 'other',"
        " listing_report.reason, listing_report.created_at, ''"
        " FROM listing_report JOIN listing ON listing.id = listing_report.listing_id"
    )
    with op.batch_alter_table('listing_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listing_report_reporter_id'))
    op.drop_table('listing_report')


def downgrade() -> None:
    op.create_table('listing_report',
    sa.Column('id', sa.INTEGER(), nullable=False),
    sa.Column('listing_id', sa.INTEGER(), nullable=False),
    sa.Column('reporter_id', sa.INTEGER(), nullable=False),
    sa.Column('reason', sa.VARCHAR(length=500), nullable=False),
    sa.Column('created_at', forum.timeutil.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_listing_report_listing_id_listing'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['user.id'], name=op.f('fk_listing_report_reporter_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_report')),
    sa.UniqueConstraint('listing_id', 'reporter_id', name=op.f('uq_listing_report_listing_reporter'))
    )
    with op.batch_alter_table('listing_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_report_reporter_id'), ['reporter_id'], unique=False)
    op.execute(
        "INSERT INTO listing_report (listing_id, reporter_id, reason, created_at)"
        " SELECT listing_id, reporter_id, CASE WHEN note = '' THEN reason ELSE note END, created_at FROM flag"
        " WHERE listing_id IS NOT NULL AND reporter_id IS NOT NULL"
    )
    op.execute("DELETE FROM flag WHERE listing_id IS NOT NULL")

    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_column('hidden_at')

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_flag_one_item'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_flag_one_item'), ONE_OF_TWO)
        batch_op.drop_constraint(batch_op.f('fk_flag_listing_id_listing'), type_='foreignkey')
        batch_op.drop_constraint('uq_flag_listing_reporter', type_='unique')
        batch_op.drop_column('listing_id')
