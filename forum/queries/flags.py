"""How many items wait in a community's review queue (the queue itself is `forum.queries.review`)."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, func, select
from sqlmodel import col

from forum.models import FLAGGED_ITEMS, Flag


def open_flag_count(community_id: int) -> ScalarSelect[int]:
    """How many items wait in the community's review queue, as a column of a larger statement."""
    # One number per item: the ids of each kind kept apart by their remainder.
    kinds = len(FLAGGED_ITEMS)
    item = func.coalesce(*(getattr(Flag, column) * kinds + index for index, column in enumerate(FLAGGED_ITEMS)))
    return (
        select(func.count(func.distinct(item)))
        .where(col(Flag.community_id) == community_id, col(Flag.resolved_at).is_(None))
        .scalar_subquery()
    )
