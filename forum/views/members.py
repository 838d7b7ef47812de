"""The secretary's member list: pending requests to verify or reject, badges and roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, redirect, request, url_for

from forum.access import access_community_to_moderate, access_membership_to_moderate
from forum.actions import memberships, mutes, suspensions
from forum.errors import InvalidInput
from forum.i18n import N_
from forum.models import Community, Membership, MembershipStatus, Role, User
from forum.permissions import CommunityStanding, can_appoint_secretaries, can_decide_on
from forum.queries.communities import members_by_status
from forum.queries.people import member_person
from forum.timeutil import utcnow
from forum.web.context import commit, db_session, login_required, notify, refused_back, require_user
from forum.web.templating import render_template

blueprint = Blueprint("members", __name__)


@blueprint.get("/c/<slug>/members")
@login_required
async def index(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    everyone = await members_by_status(db_session(), community)
    pending = everyone[MembershipStatus.PENDING]
    verified = everyone[MembershipStatus.VERIFIED]
    suspended = everyone[MembershipStatus.SUSPENDED]
    # Declined requests and removed members: both can be verified (again) from the same list.
    declined = everyone[MembershipStatus.REJECTED] + everyone[MembershipStatus.REMOVED]
    assert user.id is not None  # noqa: S101 -- a loaded row
    return await render_template(
        "members/index.html",
        community=community,
        pending=pending,
        verified=verified,
        suspended=suspended,
        declined=declined,
        # Buttons only where the action is allowed: not on oneself, not on a fellow secretary.
        decidable={
            row.membership.id
            for row in pending + verified + suspended + declined
            if can_decide_on(standing, row.membership, user.id)
        },
        can_appoint=can_appoint_secretaries(standing),
        now=utcnow(),
    )


async def _target(membership_id: int) -> tuple[User, Membership, Community, CommunityStanding]:
    user = require_user()
    membership, community, standing = await access_membership_to_moderate(db_session(), user, membership_id)
    return user, membership, community, standing


async def _done(community: Community, membership: Membership, message: str) -> Any:
    person = await member_person(db_session(), membership)
    await notify(message, name=person.display_name)
    return redirect(url_for("members.index", slug=community.slug, _anchor=f"member-{membership.id}"))


@blueprint.post("/memberships/<id:membership_id>/verify")
@login_required
async def verify(membership_id: int) -> Any:
    user, membership, community, standing = await _target(membership_id)
    await memberships.verify_membership(db_session(), actor=user, membership=membership, standing=standing)
    await commit()
    return await _done(community, membership, N_("%(name)s is now a verified member."))


@blueprint.post("/memberships/<id:membership_id>/reject")
@login_required
async def reject(membership_id: int) -> Any:
    user, membership, community, standing = await _target(membership_id)
    await memberships.reject_membership(db_session(), actor=user, membership=membership, standing=standing)
    await commit()
    return await _done(community, membership, N_("Declined the request of %(name)s. You can still verify them below."))


@blueprint.post("/memberships/<id:membership_id>/remove")
@login_required
async def remove(membership_id: int) -> Any:
    user, membership, community, standing = await _target(membership_id)
    await memberships.remove_member(db_session(), actor=user, membership=membership, standing=standing)
    await commit()
    return await _done(
        community, membership, N_("%(name)s was removed from the community. You can verify them again below.")
    )


@blueprint.post("/memberships/<id:membership_id>/party")
@login_required
async def party(membership_id: int) -> Any:
    value = (await request.form).get("value") == "1"
    user, membership, community, standing = await _target(membership_id)
    await memberships.set_party_member(db_session(), actor=user, membership=membership, standing=standing, value=value)
    await commit()
    message = N_("%(name)s now has the party badge.") if value else N_("%(name)s no longer has the party badge.")
    return await _done(community, membership, message)


@blueprint.post("/memberships/<id:membership_id>/role")
@login_required
async def role(membership_id: int) -> Any:
    role = Role.SECRETARY if (await request.form).get("role") == Role.SECRETARY else Role.RESIDENT
    user, membership, community, standing = await _target(membership_id)
    await memberships.set_role(db_session(), actor=user, membership=membership, standing=standing, role=role)
    await commit()
    message = N_("%(name)s is now a secretary.") if role == Role.SECRETARY else N_("%(name)s is no longer a secretary.")
    return await _done(community, membership, message)


async def _decided(membership_id: int, act: Callable[..., Awaitable[None]], message: str) -> Any:
    """Mute or suspend (or lift either): `act(actor, membership, standing)`, then back to the member's row; a
    refusal (a missing reason, an odd length) goes back with the message, nothing written."""
    user, membership, community, standing = await _target(membership_id)
    try:
        await act(user, membership, standing)
    except InvalidInput as error:
        return await refused_back(
            error, url_for("members.index", slug=community.slug, _anchor=f"member-{membership.id}")
        )
    await commit()
    return await _done(community, membership, message)


@blueprint.post("/memberships/<id:membership_id>/mute")
@login_required
async def mute(membership_id: int) -> Any:
    """Mute a member for a while with a reason they see (`muted=1`, `hours`, `reason`), or lift it (`muted=0`)."""
    form = await request.form
    muted = form.get("muted", "1") == "1"

    async def act(actor: User, membership: Membership, standing: CommunityStanding) -> None:
        await mutes.set_muted(
            db_session(),
            actor=actor,
            membership=membership,
            standing=standing,
            hours=form.get("hours"),
            reason=form.get("reason", ""),
            muted=muted,
        )

    return await _decided(membership_id, act, N_("%(name)s is muted.") if muted else N_("%(name)s may post again."))


@blueprint.post("/memberships/<id:membership_id>/suspend")
@login_required
async def suspend(membership_id: int) -> Any:
    """Suspend a member (`suspended=1`, `days` with 0 until lifted, `reason`), or lift it (`suspended=0`)."""
    form = await request.form
    suspended = form.get("suspended", "1") == "1"

    async def act(actor: User, membership: Membership, standing: CommunityStanding) -> None:
        await suspensions.set_suspended(
            db_session(),
            actor=actor,
            membership=membership,
            standing=standing,
            suspended=suspended,
            days=form.get("days"),
            reason=form.get("reason", ""),
        )

    message = N_("%(name)s is suspended.") if suspended else N_("%(name)s is a verified member again.")
    return await _decided(membership_id, act, message)
