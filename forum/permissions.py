"""Who may do what. Pure predicates over already-loaded rows: testable without a database."""

from __future__ import annotations

from dataclasses import dataclass

from forum.models import Membership, MembershipStatus, Role


@dataclass(frozen=True)
class CommunityStanding:
    """What one user is in one community: their membership there, if any, and whether they administer its district."""

    membership: Membership | None
    is_district_admin: bool

    @property
    def is_verified_member(self) -> bool:
        return self.membership is not None and self.membership.status == MembershipStatus.VERIFIED

    @property
    def is_secretary(self) -> bool:
        return self.is_verified_member and self.membership is not None and self.membership.role == Role.SECRETARY


def can_moderate(standing: CommunityStanding) -> bool:
    """Secretaries of the community and admins of its district verify members and grant badges."""
    return standing.is_secretary or standing.is_district_admin


def can_appoint_secretaries(standing: CommunityStanding) -> bool:
    return standing.is_district_admin


def can_see_members(standing: CommunityStanding) -> bool:
    return can_moderate(standing)


def can_request_to_join(standing: CommunityStanding) -> bool:
    membership = standing.membership
    return membership is None or membership.status == MembershipStatus.REJECTED


def can_decide_on(standing: CommunityStanding, target: Membership, actor_id: int) -> bool:
    """A secretary may not verify or reject their own request, nor change their own badge or role."""
    return can_moderate(standing) and (target.user_id != actor_id or standing.is_district_admin)
