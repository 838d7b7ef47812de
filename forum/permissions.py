"""Who may do what. Pure predicates over already-loaded rows: testable without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from forum.models import Board, BoardKind, Membership, MembershipStatus, Post, Role, Thread
from forum.timeutil import utcnow


@dataclass(frozen=True)
class CommunityStanding:
    """What one user is in one community: their membership there, if any, and whether they administer its district."""

    membership: Membership | None
    is_district_admin: bool

    @property
    def is_verified_member(self) -> bool:
        return self.membership is not None and self.membership.status == MembershipStatus.VERIFIED

    @property
    def muted_until(self) -> datetime | None:
        """Until when a secretary muted this member here (can read, cannot post or message); None if not."""
        until = self.membership.muted_until if self.membership is not None else None
        return until if until is not None and until > utcnow() else None

    @property
    def is_secretary(self) -> bool:
        return self.is_verified_member and self.membership is not None and self.membership.role == Role.SECRETARY


def can_moderate(standing: CommunityStanding) -> bool:
    """Secretaries of the community and admins of its district verify members and grant badges."""
    return standing.is_secretary or standing.is_district_admin


# The notices board is how secretaries reach every member; the market boards are where sales and swaps live.
# Neither may disappear from a community, so they cannot be archived (they can be renamed and moved).
PERMANENT_BOARD_KINDS = frozenset({BoardKind.NOTICES, BoardKind.SALE, BoardKind.SWAP})


def can_manage_boards(standing: CommunityStanding) -> bool:
    """Adding, renaming, ordering and archiving boards is for whoever moderates the community."""
    return can_moderate(standing)


def can_archive_board(standing: CommunityStanding, board: Board) -> bool:
    return can_manage_boards(standing) and board.kind not in PERMANENT_BOARD_KINDS


def can_appoint_secretaries(standing: CommunityStanding) -> bool:
    return standing.is_district_admin


def can_see_members(standing: CommunityStanding) -> bool:
    return can_moderate(standing)


def can_request_to_join(standing: CommunityStanding) -> bool:
    """Anyone not yet verified may ask (again): a pending request can be corrected, a declined one renewed. A
    suspended member may not: asking again would end their suspension."""
    membership = standing.membership
    return membership is None or membership.status not in {MembershipStatus.VERIFIED, MembershipStatus.SUSPENDED}


def can_decide_on(standing: CommunityStanding, target: Membership, actor_id: int) -> bool:
    """Secretaries decide on residents; they may not decide on themselves or on a fellow secretary (declining a
    secretary would stand them down, which is the district admin's call). District admins decide on anyone."""
    if not can_moderate(standing):
        return False
    if standing.is_district_admin:
        return True
    return target.user_id != actor_id and target.role != Role.SECRETARY


def can_read_content(standing: CommunityStanding) -> bool:
    """Boards, threads and replies are for the community's verified members (and its district's admins)."""
    return standing.is_verified_member or standing.is_district_admin


def can_start_thread(standing: CommunityStanding, board: Board) -> bool:
    if board.is_archived or not can_read_content(standing):
        return False
    if board.kind == BoardKind.NOTICES:
        return can_moderate(standing)
    return True


class Refusal(Enum):
    """Why someone may not reply in a thread (the action turns it into the message they read)."""

    ARCHIVED = "archived"  # the board is archived
    NOT_A_READER = "not_a_reader"  # they may not read the community's content (or the thread is gone)
    HIDDEN = "hidden"  # a secretary (or flags) hid the thread
    LOCKED = "locked"  # a secretary locked it
    MUTED = "muted"  # a secretary muted them here


def reply_refusal(standing: CommunityStanding, board: Board, thread: Thread) -> Refusal | None:
    """Why this standing may not reply in the thread now, or None if it may. Secretaries (and district admins)
    still reply in a locked or hidden thread; nobody muted does."""
    if thread.is_deleted or not can_read_content(standing):
        return Refusal.NOT_A_READER
    if board.is_archived:
        return Refusal.ARCHIVED
    if standing.muted_until is not None:
        return Refusal.MUTED
    if thread.hidden_at is not None and not can_moderate(standing):
        return Refusal.HIDDEN
    if thread.locked_at is not None and not can_moderate(standing):
        return Refusal.LOCKED
    return None


def can_reply(standing: CommunityStanding, board: Board, thread: Thread) -> bool:
    """May this standing reply in the thread now: the thread page's reply box, the API's `can_reply` and the
    reply action all ask this."""
    return reply_refusal(standing, board, thread) is None


def can_edit_post(standing: CommunityStanding, post: Post, actor_id: int) -> bool:
    """Authors edit and delete their own posts while they can still read the community."""
    return post.author_id == actor_id and post.deleted_at is None and can_read_content(standing)


def can_see_history(standing: CommunityStanding, post: Post, actor_id: int) -> bool:
    return post.author_id == actor_id or can_moderate(standing)


def can_see_hidden(*, is_author: bool, moderates: bool) -> bool:
    """Something hidden (by a secretary, by flags or by the word filter) stays there for its author, who sees
    why, and for the community's secretaries; for everyone else it is gone."""
    return is_author or moderates


class PostState(Protocol):
    @property
    def hidden_at(self) -> datetime | None: ...
    @property
    def deleted_at(self) -> datetime | None: ...


def can_see_post_text(post: PostState, *, is_author: bool, moderates: bool) -> bool:
    """May this reader see a post's text and pictures (the thread page, the API and a replay ask this): not
    deleted by its author, and not hidden from them."""
    return post.deleted_at is None and (
        post.hidden_at is None or can_see_hidden(is_author=is_author, moderates=moderates)
    )


def can_run_sale(standing: CommunityStanding, organiser_id: int | None, actor_id: int | None) -> bool:
    """A charity sale's organiser runs it; the community's secretaries (and district admins) can stand in."""
    return (organiser_id is not None and organiser_id == actor_id) or can_moderate(standing)


class ReportState(Protocol):
    @property
    def reporter_id(self) -> int | None: ...
    @property
    def is_private(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    @property
    def hidden_at(self) -> datetime | None: ...


def can_see_report(report: ReportState, *, user_id: int | None, moderates: bool) -> bool:
    """A report is public to the community's readers, unless its reporter made it private (then only they and
    the secretaries see it, its photos and its comments) or it is hidden (then only they and the secretaries)."""
    is_reporter = report.reporter_id is not None and report.reporter_id == user_id
    if report.is_private and not (is_reporter or moderates):
        return False
    return report.hidden_at is None or can_see_hidden(is_author=is_reporter, moderates=moderates)


def can_see_reporter(report: ReportState, *, user_id: int | None, moderates: bool) -> bool:
    """A reporter may hide their name from neighbours, never from the secretaries."""
    is_reporter = report.reporter_id is not None and report.reporter_id == user_id
    return not report.is_anonymous or is_reporter or moderates


def can_handle_reports(standing: CommunityStanding) -> bool:
    """Formal answers and status changes are for the community's secretaries (and its district's admins)."""
    return can_moderate(standing)
