"""What a community's secretaries set for problem reports: the categories residents choose from (seeded with the
community), the buildings and places a report names, how many hours a formal answer may take, and the site plan
a report may mark a point on."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import audit
from forum.actions.images import attach_images
from forum.db import stage_removal
from forum.errors import Forbidden, field_error
from forum.i18n import N_
from forum.images import PreparedImage
from forum.models import Community, ReportCategory, ReportPlace, SitePlan, User, id_of
from forum.permissions import CommunityStanding, can_moderate
from forum.storage import VARIANTS, image_name
from forum.validation import clean_text

DEFAULT_CATEGORIES = (
    "环境卫生",
    "绿化",
    "停车",
    "噪音",
    "设施维修",
    "高空抛物",
    "安全隐患",
    "邻里纠纷",
    "咨询建议",
    "其他",
)
CATEGORY_NAME_MAX = 20
PLACE_NAME_MAX = 30
MAX_CATEGORIES = 40
MAX_PLACES = 300
ANSWER_HOURS_MIN = 1
ANSWER_HOURS_MAX = 168  # a week


def _require_secretary(standing: CommunityStanding) -> None:
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can change how problems are reported."))


async def create_default_categories(session: AsyncSession, *, community: Community) -> list[ReportCategory]:
    rows = [
        ReportCategory(community_id=id_of(community), name=name, position=position)
        for position, name in enumerate(DEFAULT_CATEGORIES)
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def _next_position(
    session: AsyncSession, table: type[ReportCategory] | type[ReportPlace], community_id: int
) -> int:
    count: int = (
        await session.execute(select(func.count()).select_from(table).where(col(table.community_id) == community_id))
    ).scalar_one()
    return count


async def add_category(
    session: AsyncSession, *, actor: User, community: Community, standing: CommunityStanding, name: object
) -> ReportCategory:
    _require_secretary(standing)
    clean = clean_text(name, "name", max_length=CATEGORY_NAME_MAX)
    position = await _next_position(session, ReportCategory, id_of(community))
    if position >= MAX_CATEGORIES:
        raise field_error("name", N_("A community keeps at most %(max)d categories."), max=MAX_CATEGORIES)
    row = ReportCategory(community_id=id_of(community), name=clean, position=position)
    await _insert_named(session, row, N_("This community has a category of that name already."))
    await audit.record(
        session, actor=actor, action="report_category.added", community_id=id_of(community), detail=clean
    )
    return row


async def _insert_named(session: AsyncSession, row: ReportCategory | ReportPlace, taken: str) -> None:
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise field_error("name", taken, status=409) from None


async def rename_category(
    session: AsyncSession, *, actor: User, category: ReportCategory, standing: CommunityStanding, name: object
) -> None:
    """Reports filed under it carry the new name too (they refer to the category)."""
    _require_secretary(standing)
    clean = clean_text(name, "name", max_length=CATEGORY_NAME_MAX)
    if clean == category.name:
        return
    old = category.name
    try:
        async with session.begin_nested():
            category.name = clean
            await session.flush()
    except IntegrityError:
        category.name = old
        raise field_error("name", N_("This community has a category of that name already."), status=409) from None
    await audit.record(
        session,
        actor=actor,
        action="report_category.renamed",
        community_id=category.community_id,
        detail=f"{old} → {clean}",
    )


async def set_category_archived(
    session: AsyncSession, *, actor: User, category: ReportCategory, standing: CommunityStanding, archived: bool
) -> None:
    """An archived category is offered no more; the reports filed under it keep it."""
    _require_secretary(standing)
    if category.is_archived == archived:
        return
    category.is_archived = archived
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="report_category.archived" if archived else "report_category.restored",
        community_id=category.community_id,
        detail=category.name,
    )


async def add_place(
    session: AsyncSession, *, actor: User, community: Community, standing: CommunityStanding, name: object
) -> ReportPlace:
    _require_secretary(standing)
    clean = clean_text(name, "name", max_length=PLACE_NAME_MAX)
    position = await _next_position(session, ReportPlace, id_of(community))
    if position >= MAX_PLACES:
        raise field_error("name", N_("A community keeps at most %(max)d places."), max=MAX_PLACES)
    row = ReportPlace(community_id=id_of(community), name=clean, position=position)
    await _insert_named(session, row, N_("This community has a place of that name already."))
    await audit.record(session, actor=actor, action="report_place.added", community_id=id_of(community), detail=clean)
    return row


async def set_place_archived(
    session: AsyncSession, *, actor: User, place: ReportPlace, standing: CommunityStanding, archived: bool
) -> None:
    _require_secretary(standing)
    if place.is_archived == archived:
        return
    place.is_archived = archived
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="report_place.archived" if archived else "report_place.restored",
        community_id=place.community_id,
        detail=place.name,
    )


async def set_answer_hours(
    session: AsyncSession, *, actor: User, community: Community, standing: CommunityStanding, hours: object
) -> None:
    """How many hours a formal answer may take in this community, for reports made from now on."""
    _require_secretary(standing)
    value = hours
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not ANSWER_HOURS_MIN <= value <= ANSWER_HOURS_MAX:
        raise field_error(
            "hours",
            N_("Between %(min)d and %(max)d hours."),
            min=ANSWER_HOURS_MIN,
            max=ANSWER_HOURS_MAX,
        )
    if value == community.report_answer_hours:
        return
    community.report_answer_hours = value
    await session.flush()
    await audit.record(
        session, actor=actor, action="report.answer_hours", community_id=id_of(community), detail=str(value)
    )


async def set_site_plan(
    session: AsyncSession,
    *,
    actor: User,
    community: Community,
    standing: CommunityStanding,
    image: PreparedImage | None,
) -> SitePlan | None:
    """Upload the site plan (checked and re-encoded already) in place of the old one, or remove it (None).
    Points marked on the old plan stay on their reports."""
    _require_secretary(standing)
    old = (
        await session.execute(select(SitePlan).where(col(SitePlan.community_id) == community.id))
    ).scalar_one_or_none()
    if old is not None:
        for variant in VARIANTS:
            stage_removal(session, image_name(old.key, old.content_type, variant))
        await session.execute(delete(SitePlan).where(col(SitePlan.id) == old.id))
    plan = None
    if image is not None:
        (plan,) = await attach_images(session, model=SitePlan, owner={"community_id": id_of(community)}, images=[image])
    await audit.record(
        session,
        actor=actor,
        action="report.site_plan" if image is not None else "report.site_plan_removed",
        community_id=id_of(community),
    )
    return plan
