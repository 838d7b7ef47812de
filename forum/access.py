"""Every fetch by id (or slug) of something a user asked for goes through here: it returns it or raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from forum.errors import Forbidden, NotFound
from forum.i18n import N_
from forum.models import (
    Board,
    CharitySale,
    Community,
    Conversation,
    ConversationMember,
    District,
    DistrictAdmin,
    Flag,
    GuideEntry,
    Letter,
    LetterImage,
    Listing,
    ListingImage,
    ListingStatus,
    Membership,
    MembershipStatus,
    Message,
    MessageImage,
    Notification,
    Offer,
    Post,
    PostImage,
    Report,
    ReportCategory,
    ReportComment,
    ReportImage,
    ReportPlace,
    Role,
    SaleItem,
    SaleItemImage,
    SaleReservation,
    Thread,
    User,
)
from forum.permissions import (
    CommunityStanding,
    can_manage_boards,
    can_moderate,
    can_read_content,
    can_see_hidden,
    can_see_report,
)


def _with_standing() -> Select[Community, Membership, DistrictAdmin]:
    """Communities with the membership there of the user given as `viewer_id` and their admin row for its
    district, in one statement.

    The statements below are built once, at import, with bound parameters: on every page, building and keying
    a statement costs more than SQLite takes to run it."""
    viewer: BindParameter[int] = bindparam("viewer_id")
    return (
        select(Community, Membership, DistrictAdmin)
        .outerjoin(
            Membership,
            and_(col(Membership.community_id) == col(Community.id), col(Membership.user_id) == viewer),
        )
        .outerjoin(
            DistrictAdmin,
            and_(col(DistrictAdmin.district_id) == col(Community.district_id), col(DistrictAdmin.user_id) == viewer),
        )
    )


_COMMUNITY_BY_ID = _with_standing().where(col(Community.id) == bindparam("community_id"))
_COMMUNITY_BY_SLUG = _with_standing().where(col(Community.slug) == bindparam("slug"))
_MEMBERSHIP_TARGET = aliased(Membership)
_MEMBERSHIP = (
    _with_standing()
    .add_columns(_MEMBERSHIP_TARGET)
    .join(_MEMBERSHIP_TARGET, col(_MEMBERSHIP_TARGET.community_id) == col(Community.id))
    .where(col(_MEMBERSHIP_TARGET.id) == bindparam("membership_id"))
)
_BOARD_BY_SLUGS = (
    _with_standing()
    .add_columns(Board)
    .join(Board, col(Board.community_id) == col(Community.id))
    .where(col(Community.slug) == bindparam("slug"), col(Board.slug) == bindparam("board_slug"))
)
_BOARD_BY_ID = (
    _with_standing()
    .join(Board, col(Board.community_id) == col(Community.id))
    .where(col(Board.id) == bindparam("board_id"))
)
_THREAD = (
    _with_standing()
    .add_columns(Board, Thread)
    .join(Thread, col(Thread.community_id) == col(Community.id))
    .join(Board, col(Board.id) == col(Thread.board_id))
    .where(col(Thread.id) == bindparam("thread_id"), col(Thread.is_deleted).is_(False))
)

_IMAGE = (
    _with_standing()
    .add_columns(PostImage, col(Post.hidden_at), col(Post.author_id), col(Thread.hidden_at), col(Thread.author_id))
    .join(Thread, col(Thread.community_id) == col(Community.id))
    .join(Post, col(Post.thread_id) == col(Thread.id))
    .join(PostImage, col(PostImage.post_id) == col(Post.id))
    .where(
        col(PostImage.id) == bindparam("image_id"),
        col(Thread.is_deleted).is_(False),
        col(Post.deleted_at).is_(None),
    )
)


def _standing(row: Any) -> CommunityStanding:
    """The standing in a row of a `_with_standing` statement (community, membership, district admin, ...)."""
    return CommunityStanding(membership=row[1], is_district_admin=row[2] is not None)


async def standing_in(session: AsyncSession, user: User, community: Community) -> CommunityStanding:
    row = (await session.execute(_COMMUNITY_BY_ID, {"viewer_id": user.id, "community_id": community.id})).one()
    return _standing(row)


async def access_community(session: AsyncSession, user: User, slug: str) -> tuple[Community, CommunityStanding]:
    """Any signed-in user may see that a community exists (name, district); members see more."""
    row = (await session.execute(_COMMUNITY_BY_SLUG, {"viewer_id": user.id, "slug": slug})).first()
    if row is None:
        raise NotFound()
    return row[0], _standing(row)


async def access_community_content(session: AsyncSession, user: User, slug: str) -> tuple[Community, CommunityStanding]:
    """A community whose content (boards, letters, the market, search) the user may read: outsiders learn
    nothing (404), members who may not read it are told why (403)."""
    community, standing = await access_community(session, user, slug)
    require_reader(standing)
    return community, standing


async def access_community_content_by_id(
    session: AsyncSession, user: User, community_id: int
) -> tuple[Community, CommunityStanding]:
    """As `access_community_content`, by id (the community's live rooms)."""
    row = (await session.execute(_COMMUNITY_BY_ID, {"viewer_id": user.id, "community_id": community_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    require_reader(standing)
    return row[0], standing


async def access_community_to_moderate(
    session: AsyncSession, user: User, slug: str
) -> tuple[Community, CommunityStanding]:
    community, standing = await access_community(session, user, slug)
    if not can_moderate(standing):
        raise Forbidden()
    return community, standing


async def access_community_to_moderate_by_id(
    session: AsyncSession, user: User, community_id: int
) -> tuple[Community, CommunityStanding]:
    """A community the user moderates, by id (its review queue's room): readers who do not moderate get 403."""
    community, standing = await access_community_content_by_id(session, user, community_id)
    if not can_moderate(standing):
        raise Forbidden()  # the review queue is the secretaries'
    return community, standing


async def access_membership_to_moderate(
    session: AsyncSession, user: User, membership_id: int
) -> tuple[Membership, Community, CommunityStanding]:
    """A membership the user may decide on. Outsiders learn nothing (404); members who are not secretaries get 403."""
    row = (await session.execute(_MEMBERSHIP, {"viewer_id": user.id, "membership_id": membership_id})).first()
    if row is None:
        raise NotFound()
    community, _mine, _admin, membership = row
    standing = _standing(row)
    if not can_moderate(standing):
        if standing.is_verified_member:
            raise Forbidden()
        raise NotFound()
    return membership, community, standing


def require_moderator(standing: CommunityStanding) -> None:
    """Raise 403 unless the standing is a secretary's or a district admin's."""
    if not can_moderate(standing):
        raise Forbidden(N_("Only the community's secretaries can do this."))


class MembersOnly(Forbidden):
    default_message = N_("Only verified members of this community can see its boards. A secretary verifies you.")


class Suspended(Forbidden):
    default_message = N_("A secretary suspended you from this community: %(reason)s. Its page says until when.")


def members_only(standing: CommunityStanding) -> Forbidden:
    """Why this standing may not read the community: suspended (with the reason), or not a verified member."""
    if standing.membership is not None and standing.membership.status == MembershipStatus.SUSPENDED:
        return Suspended(reason=standing.membership.suspend_reason)
    return MembersOnly()


def _withheld(hidden: bool, author_id: int | None, user: User, standing: CommunityStanding) -> bool:
    """Hidden from this reader: hidden, and they are neither its author nor one of the secretaries."""
    is_author = author_id is not None and author_id == user.id
    return hidden and not can_see_hidden(is_author=is_author, moderates=can_moderate(standing))


def require_reader(standing: CommunityStanding) -> None:
    """The one rule for reading a community's content, on pages, in the API and for live rooms: raise unless
    the standing may. Outsiders learn nothing (404); anyone with a membership there (pending, declined or
    suspended) knows the community and is told why (403, with a suspension's reason)."""
    if not can_read_content(standing):
        if standing.membership is not None:
            raise members_only(standing)
        raise NotFound()


async def _board_with_standing(
    session: AsyncSession, user: User, community_slug: str, board_slug: str
) -> tuple[Community, Board, CommunityStanding]:
    row = (
        await session.execute(_BOARD_BY_SLUGS, {"viewer_id": user.id, "slug": community_slug, "board_slug": board_slug})
    ).first()
    if row is None:
        raise NotFound()
    community, _membership, _admin, board = row
    return community, board, _standing(row)


async def access_board(
    session: AsyncSession, user: User, community_slug: str, board_slug: str
) -> tuple[Community, Board, CommunityStanding]:
    community, board, standing = await _board_with_standing(session, user, community_slug, board_slug)
    require_reader(standing)
    return community, board, standing


def _require_board_manager(standing: CommunityStanding) -> None:
    """Members who may not manage boards are told so (403); anyone else learns nothing about them (404)."""
    if not can_manage_boards(standing):
        if standing.membership is not None:
            raise Forbidden()
        raise NotFound()


async def access_boards_to_manage(
    session: AsyncSession, user: User, community_slug: str
) -> tuple[Community, CommunityStanding]:
    """The community whose boards the user manages (its secretaries and its district's admins)."""
    community, standing = await access_community(session, user, community_slug)
    _require_board_manager(standing)
    return community, standing


async def access_board_to_manage(
    session: AsyncSession, user: User, community_slug: str, board_slug: str
) -> tuple[Community, Board, CommunityStanding]:
    """A board (archived or not) that the user may rename, move, archive or restore."""
    community, board, standing = await _board_with_standing(session, user, community_slug, board_slug)
    _require_board_manager(standing)
    return community, board, standing


async def access_thread(
    session: AsyncSession, user: User, thread_id: int
) -> tuple[Thread, Board, Community, CommunityStanding]:
    """A thread the user may read: deleted threads and outsiders get 404, unverified members 403."""
    row = (await session.execute(_THREAD, {"viewer_id": user.id, "thread_id": thread_id})).first()
    if row is None:
        raise NotFound()
    community, _membership, _admin, board, thread = row
    standing = _standing(row)
    require_reader(standing)
    if _withheld(thread.hidden_at is not None, thread.author_id, user, standing):
        raise NotFound()  # hidden by a secretary: there for its author (who sees why) and the secretaries only
    return thread, board, community, standing


async def access_board_content(session: AsyncSession, user: User, board_id: int) -> CommunityStanding:
    """May the user read this board's threads (its live room)? As the board's page: the community's readers."""
    row = (await session.execute(_BOARD_BY_ID, {"viewer_id": user.id, "board_id": board_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    require_reader(standing)
    return standing


async def access_post(
    session: AsyncSession, user: User, post_id: int
) -> tuple[Post, Thread, Board, Community, CommunityStanding]:
    """A post the user may read, with its thread, board and community: the thread's rules apply."""
    post = await session.get(Post, post_id)
    if post is None:
        raise NotFound()
    thread, board, community, standing = await access_thread(session, user, post.thread_id)
    return post, thread, board, community, standing


async def access_image(session: AsyncSession, user: User, image_id: int) -> PostImage:
    """A picture under a post the user may read, in one statement: the thread's rules apply, and the pictures of
    a deleted post or thread are gone for everyone."""
    row = (await session.execute(_IMAGE, {"viewer_id": user.id, "image_id": image_id})).first()
    if row is None:
        raise NotFound()
    _community, _membership, _admin, image, hidden_at, author_id, thread_hidden_at, thread_author_id = row
    standing = _standing(row)
    require_reader(standing)
    if _withheld(thread_hidden_at is not None, thread_author_id, user, standing):
        raise NotFound()  # a hidden thread's pictures go with it, as in access_thread
    if _withheld(hidden_at is not None, author_id, user, standing):
        raise NotFound()  # a hidden reply's pictures go with its text
    return image


_CONVERSATION = (
    _with_standing()
    .add_columns(Conversation, ConversationMember)
    .join(Conversation, col(Conversation.community_id) == col(Community.id))
    .join(
        ConversationMember,
        and_(
            col(ConversationMember.conversation_id) == col(Conversation.id),
            col(ConversationMember.user_id) == bindparam("viewer_id"),
        ),
    )
    .where(col(Conversation.id) == bindparam("conversation_id"))
)


async def access_conversation(
    session: AsyncSession, user: User, conversation_id: int
) -> tuple[Conversation, ConversationMember, CommunityStanding]:
    """A private conversation, for its participants only: to anyone else, secretaries and district admins
    included, it does not exist."""
    row = (await session.execute(_CONVERSATION, {"viewer_id": user.id, "conversation_id": conversation_id})).first()
    if row is None:
        raise NotFound()
    return row[3], row[4], _standing(row)


async def access_conversation_message(
    session: AsyncSession, user: User, conversation_id: int, message_id: int
) -> tuple[Message, Community, CommunityStanding]:
    """One message of a conversation, for its participants only (as `access_conversation`), with the
    conversation's community."""
    row = (await session.execute(_CONVERSATION, {"viewer_id": user.id, "conversation_id": conversation_id})).first()
    if row is None:
        raise NotFound()
    message = (
        await session.execute(
            select(Message).where(col(Message.id) == message_id, col(Message.conversation_id) == conversation_id)
        )
    ).scalar_one_or_none()
    if message is None:
        raise NotFound()
    return message, row[0], _standing(row)


_MESSAGE_IMAGE = (
    select(MessageImage, Message)
    .join(Message, col(Message.id) == col(MessageImage.message_id))
    .join(
        ConversationMember,
        and_(
            col(ConversationMember.conversation_id) == col(Message.conversation_id),
            col(ConversationMember.user_id) == bindparam("viewer_id"),
        ),
    )
    .where(col(MessageImage.id) == bindparam("image_id"))
)


_FLAGGED_IMAGE = (
    _with_standing()
    .add_columns(MessageImage)
    .join(Flag, col(Flag.community_id) == col(Community.id))
    .join(MessageImage, col(MessageImage.message_id) == col(Flag.message_id))
    .where(col(MessageImage.id) == bindparam("image_id"), col(Flag.resolved_at).is_(None))
    .limit(1)
)


async def access_message_image(session: AsyncSession, user: User, image_id: int) -> MessageImage:
    """A picture in a private message, for the conversation's participants only (as its text; of a hidden
    message, its sender only), and for the secretaries reviewing a flag on that one message while the flag is
    open (as its text)."""
    params = {"viewer_id": user.id, "image_id": image_id}
    found = (await session.execute(_MESSAGE_IMAGE, params)).first()
    if found is not None and (found[1].hidden_at is None or found[1].sender_id == user.id):
        return found[0]
    flagged = (await session.execute(_FLAGGED_IMAGE, params)).first()
    if flagged is None or not can_moderate(_standing(flagged)):
        raise NotFound()
    return flagged[3]


_LETTER = _with_standing().add_columns(Letter).join(Letter, col(Letter.community_id) == col(Community.id))


async def access_letter(
    session: AsyncSession, user: User, letter_id: int
) -> tuple[Letter, Community, CommunityStanding]:
    """A thank-you letter, for whoever may read its community's boards; a hidden one only for its writer and
    the secretaries."""
    row = (await session.execute(_LETTER.where(col(Letter.id) == letter_id), {"viewer_id": user.id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    require_reader(standing)
    _require_letter_shown(row[3], user, standing)
    return row[3], row[0], standing


def _require_letter_shown(letter: Letter, user: User, standing: CommunityStanding) -> None:
    if _withheld(letter.hidden_at is not None, letter.author_id, user, standing):
        raise NotFound()  # hidden by a secretary or by flags: there for its writer and the secretaries only


_LETTER_IMAGE = (
    _with_standing()
    .add_columns(LetterImage, Letter)
    .join(Letter, col(Letter.community_id) == col(Community.id))
    .join(LetterImage, col(LetterImage.letter_id) == col(Letter.id))
    .where(col(LetterImage.id) == bindparam("image_id"))
)


async def access_letter_image(session: AsyncSession, user: User, image_id: int) -> LetterImage:
    """A photo in a thank-you letter, under the same rule as the letter."""
    row = (await session.execute(_LETTER_IMAGE, {"viewer_id": user.id, "image_id": image_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    require_reader(standing)
    _require_letter_shown(row[4], user, standing)
    return row[3]


async def access_notification(session: AsyncSession, user: User, notification_id: int) -> Notification:
    """One of the user's own notifications; anyone else's does not exist."""
    found = await session.get(Notification, notification_id)
    if found is None or found.user_id != user.id:
        raise NotFound()
    return found


async def access_flagged_message(
    session: AsyncSession, user: User, message_id: int
) -> tuple[Message, Community, CommunityStanding]:
    """A private message someone flagged, for the secretaries (and district admins) of its community only:
    that one message, never its conversation. Anyone else, and any message nobody flagged, is 404."""
    row = (
        await session.execute(
            select(Message, col(Flag.community_id))
            .join(Flag, col(Flag.message_id) == col(Message.id))
            .where(col(Message.id) == message_id)
            .limit(1)
        )
    ).first()
    if row is None:
        raise NotFound()
    message, community_id = row
    standing_row = (await session.execute(_COMMUNITY_BY_ID, {"viewer_id": user.id, "community_id": community_id})).one()
    standing = _standing(standing_row)
    if not can_moderate(standing):
        raise NotFound()
    return message, standing_row[0], standing


_SALE = (
    _with_standing()
    .add_columns(CharitySale)
    .join(CharitySale, col(CharitySale.community_id) == col(Community.id))
    .where(col(CharitySale.id) == bindparam("sale_id"))
)
_SALE_ITEM = (
    _with_standing()
    .add_columns(CharitySale, SaleItem)
    .join(CharitySale, col(CharitySale.community_id) == col(Community.id))
    .join(SaleItem, col(SaleItem.sale_id) == col(CharitySale.id))
    .where(col(SaleItem.id) == bindparam("item_id"))
)
_RESERVATION = (
    _with_standing()
    .add_columns(CharitySale, SaleItem, SaleReservation)
    .join(CharitySale, col(CharitySale.community_id) == col(Community.id))
    .join(SaleItem, col(SaleItem.sale_id) == col(CharitySale.id))
    .join(SaleReservation, col(SaleReservation.item_id) == col(SaleItem.id))
    .where(col(SaleReservation.id) == bindparam("reservation_id"))
)
_SALE_ITEM_IMAGE = (
    _with_standing()
    .add_columns(SaleItemImage)
    .join(CharitySale, col(CharitySale.community_id) == col(Community.id))
    .join(SaleItem, col(SaleItem.sale_id) == col(CharitySale.id))
    .join(SaleItemImage, col(SaleItemImage.item_id) == col(SaleItem.id))
    .where(col(SaleItemImage.id) == bindparam("image_id"))
)


async def access_sale(
    session: AsyncSession, user: User, sale_id: int
) -> tuple[CharitySale, Community, CommunityStanding]:
    """A charity sale, for whoever may read its community's boards."""
    row = (await session.execute(_SALE, {"viewer_id": user.id, "sale_id": sale_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    require_reader(standing)
    return row[3], row[0], standing


async def access_sale_item(
    session: AsyncSession, user: User, item_id: int
) -> tuple[SaleItem, CharitySale, Community, CommunityStanding]:
    """An item of a charity sale, under the sale's rule, with its sale (so they always belong together)."""
    row = (await session.execute(_SALE_ITEM, {"viewer_id": user.id, "item_id": item_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    require_reader(standing)
    return row[4], row[3], row[0], standing


async def access_reservation(
    session: AsyncSession, user: User, reservation_id: int
) -> tuple[SaleReservation, SaleItem, CharitySale, Community, CommunityStanding]:
    """A reservation, for its buyer, the sale's organiser and the community's secretaries: to anyone else
    (who reserved what is between them) it does not exist."""
    row = (await session.execute(_RESERVATION, {"viewer_id": user.id, "reservation_id": reservation_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    sale, item, reservation = row[3], row[4], row[5]
    if not can_read_content(standing) or (
        reservation.buyer_id != user.id and sale.organiser_id != user.id and not can_moderate(standing)
    ):
        raise NotFound()
    return reservation, item, sale, row[0], standing


async def access_sale_item_image(session: AsyncSession, user: User, image_id: int) -> SaleItemImage:
    """A photo of a donated item, under the sale's rule."""
    row = (await session.execute(_SALE_ITEM_IMAGE, {"viewer_id": user.id, "image_id": image_id})).first()
    if row is None:
        raise NotFound()
    require_reader(_standing(row))
    return row[3]


_LISTING = (
    _with_standing()
    .add_columns(Listing)
    .join(Listing, col(Listing.community_id) == col(Community.id))
    .where(col(Listing.id) == bindparam("listing_id"))
)
_OFFER = (
    _with_standing()
    .add_columns(Listing, Offer)
    .join(Listing, col(Listing.community_id) == col(Community.id))
    .join(Offer, col(Offer.listing_id) == col(Listing.id))
    .where(col(Offer.id) == bindparam("offer_id"))
)
_LISTING_IMAGE = (
    _with_standing()
    .add_columns(Listing, ListingImage)
    .join(Listing, col(Listing.community_id) == col(Community.id))
    .join(ListingImage, col(ListingImage.listing_id) == col(Listing.id))
    .where(col(ListingImage.id) == bindparam("image_id"))
)


def _require_listing_visible(user: User, listing: Listing, standing: CommunityStanding) -> None:
    """A listing is for the community's readers; a removed one, or one hidden by flags until review, only for
    its owner (who sees why) and the secretaries."""
    require_reader(standing)
    withheld = listing.status == ListingStatus.REMOVED or listing.hidden_at is not None
    if _withheld(withheld, listing.owner_id, user, standing):
        raise NotFound()


async def access_listing(
    session: AsyncSession, user: User, listing_id: int
) -> tuple[Listing, Community, CommunityStanding]:
    """A swap or give-away, for whoever may read its community's boards."""
    row = (await session.execute(_LISTING, {"viewer_id": user.id, "listing_id": listing_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    _require_listing_visible(user, row[3], standing)
    return row[3], row[0], standing


async def access_offer(
    session: AsyncSession, user: User, offer_id: int
) -> tuple[Offer, Listing, Community, CommunityStanding]:
    """An offer, for its maker, the listing's owner and the community's secretaries: to anyone else it does
    not exist."""
    row = (await session.execute(_OFFER, {"viewer_id": user.id, "offer_id": offer_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    listing, offer = row[3], row[4]
    if not can_read_content(standing) or (
        offer.maker_id != user.id and listing.owner_id != user.id and not can_moderate(standing)
    ):
        raise NotFound()
    return offer, listing, row[0], standing


async def access_listing_image(session: AsyncSession, user: User, image_id: int) -> ListingImage:
    """A photo of a listing, under the listing's rule."""
    row = (await session.execute(_LISTING_IMAGE, {"viewer_id": user.id, "image_id": image_id})).first()
    if row is None:
        raise NotFound()
    _require_listing_visible(user, row[3], _standing(row))
    return row[4]


_REPORT = (
    _with_standing()
    .add_columns(Report)
    .join(Report, col(Report.community_id) == col(Community.id))
    .where(col(Report.id) == bindparam("report_id"))
)
_REPORT_IMAGE = (
    _with_standing()
    .add_columns(Report, ReportImage)
    .join(Report, col(Report.community_id) == col(Community.id))
    .join(ReportImage, col(ReportImage.report_id) == col(Report.id))
    .where(col(ReportImage.id) == bindparam("image_id"))
)
_REPORT_COMMENT = (
    _with_standing()
    .add_columns(Report, ReportComment)
    .join(Report, col(Report.community_id) == col(Community.id))
    .join(ReportComment, col(ReportComment.report_id) == col(Report.id))
    .where(col(ReportComment.id) == bindparam("comment_id"))
)


def _require_report_visible(user: User, report: Report, standing: CommunityStanding) -> None:
    """The one rule for a report, its photos, comments and room: the community's readers see a public report;
    a private or hidden one only its reporter and the secretaries. To anyone else it does not exist."""
    require_reader(standing)
    if not can_see_report(report, user_id=user.id, moderates=can_moderate(standing)):
        raise NotFound()


async def access_report(
    session: AsyncSession, user: User, report_id: int
) -> tuple[Report, Community, CommunityStanding]:
    """A problem report (我身边的事), for whoever may see it."""
    row = (await session.execute(_REPORT, {"viewer_id": user.id, "report_id": report_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    _require_report_visible(user, row[3], standing)
    return row[3], row[0], standing


async def access_report_image(session: AsyncSession, user: User, image_id: int) -> ReportImage:
    """A photo of a report, under the report's rule."""
    row = (await session.execute(_REPORT_IMAGE, {"viewer_id": user.id, "image_id": image_id})).first()
    if row is None:
        raise NotFound()
    _require_report_visible(user, row[3], _standing(row))
    return row[4]


async def access_report_comment(
    session: AsyncSession, user: User, comment_id: int
) -> tuple[ReportComment, Report, Community, CommunityStanding]:
    """A comment under a report: the report's rule, and a hidden comment only for its author and the
    secretaries."""
    row = (await session.execute(_REPORT_COMMENT, {"viewer_id": user.id, "comment_id": comment_id})).first()
    if row is None:
        raise NotFound()
    standing = _standing(row)
    report, comment = row[3], row[4]
    _require_report_visible(user, report, standing)
    if _withheld(comment.hidden_at is not None, comment.author_id, user, standing):
        raise NotFound()
    return comment, report, row[0], standing


async def board_in(session: AsyncSession, community_id: int, slug: object) -> Board:
    """A board of this community by its slug (archived or not; the action decides), or 404."""
    if not isinstance(slug, str) or not slug:
        raise NotFound()
    found = (
        await session.execute(select(Board).where(col(Board.community_id) == community_id, col(Board.slug) == slug))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


async def report_category_in(session: AsyncSession, community_id: int, category_id: int) -> ReportCategory:
    """A report category of this community (archived or not; the action decides), or 404."""
    found = await session.get(ReportCategory, category_id)
    if found is None or found.community_id != community_id:
        raise NotFound()
    return found


async def report_place_in(session: AsyncSession, community_id: int, place_id: int) -> ReportPlace:
    """A building or landmark of this community (archived or not), or 404."""
    found = await session.get(ReportPlace, place_id)
    if found is None or found.community_id != community_id:
        raise NotFound()
    return found


@dataclass(frozen=True, slots=True)
class DistrictStanding:
    """What one user is in one district: one of its admins, and which of its communities they are a secretary of."""

    district: District
    is_admin: bool
    secretary_of: tuple[Community, ...]

    @property
    def reads_guide(self) -> bool:
        """The whole response guide is for the district's admins and the secretaries of its communities."""
        return self.is_admin or bool(self.secretary_of)


_DISTRICT = (
    select(District, DistrictAdmin)
    .outerjoin(
        DistrictAdmin,
        and_(col(DistrictAdmin.district_id) == col(District.id), col(DistrictAdmin.user_id) == bindparam("viewer_id")),
    )
    .where(col(District.slug) == bindparam("slug"))
)
_SECRETARY_OF = (
    select(Community)
    .join(Membership, col(Membership.community_id) == col(Community.id))
    .where(
        col(Community.district_id) == bindparam("district_id"),
        col(Membership.user_id) == bindparam("viewer_id"),
        col(Membership.role) == Role.SECRETARY,
        col(Membership.status) == MembershipStatus.VERIFIED,
    )
    .order_by(col(Community.id))
)


async def access_district(session: AsyncSession, user: User, slug: str) -> DistrictStanding:
    """A district whose response guide the user may read (its admins, its communities' secretaries); to anyone
    else it does not exist (404)."""
    row = (await session.execute(_DISTRICT, {"viewer_id": user.id, "slug": slug})).first()
    if row is None:
        raise NotFound()
    district, admin = row
    communities = tuple(
        (await session.execute(_SECRETARY_OF, {"viewer_id": user.id, "district_id": district.id})).scalars()
    )
    standing = DistrictStanding(district=district, is_admin=admin is not None, secretary_of=communities)
    if not standing.reads_guide:
        raise NotFound()
    return standing


def require_district_admin(standing: DistrictStanding) -> None:
    if not standing.is_admin:
        raise Forbidden(N_("Only the district's admins can see this."))


async def guide_entry_in(session: AsyncSession, district_id: int, entry_id: int) -> GuideEntry:
    """An entry of this district's response guide, or 404."""
    found = await session.get(GuideEntry, entry_id)
    if found is None or found.district_id != district_id:
        raise NotFound()
    return found
