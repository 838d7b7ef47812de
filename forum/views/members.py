"""The secretary's member list: pending requests to verify or reject, badges and roles."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, render_template, request, url_for

from forum.access import access_community_to_moderate, access_membership_to_moderate
from forum.actions import memberships
from forum.models import MembershipStatus, Role
from forum.permissions import can_appoint_secretaries
from forum.queries.communities import members
from forum.web.context import commit, db_session, login_required, require_user

blueprint = Blueprint("members", __name__)


@blueprint.get("/c/<slug>/members")
@login_required
async def index(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community_to_moderate(db_session(), user, slug)
    return await render_template(
        "members/index.html",
        community=community,
        pending=await members(db_session(), community, status=MembershipStatus.PENDING),
        verified=await members(db_session(), community, status=MembershipStatus.VERIFIED),
        can_appoint=can_appoint_secretaries(standing),
        me=user,
    )


async def _decide(membership_id: int, action: str) -> Any:
    user = require_user()
    session = db_session()
    membership, community, standing = await access_membership_to_moderate(session, user, membership_id)
    form = await request.form
    if action == "verify":
        await memberships.verify_membership(session, actor=user, membership=membership, standing=standing)
    elif action == "reject":
        await memberships.reject_membership(session, actor=user, membership=membership, standing=standing)
    elif action == "party":
        value = form.get("value") == "1"
        await memberships.set_party_member(session, actor=user, membership=membership, standing=standing, value=value)
    elif action == "role":
        role = Role.SECRETARY if form.get("role") == Role.SECRETARY else Role.RESIDENT
        await memberships.set_role(session, actor=user, membership=membership, standing=standing, role=role)
    await commit()
    return redirect(url_for("members.index", slug=community.slug) + f"#member-{membership.id}")


@blueprint.post("/memberships/<id:membership_id>/verify")
@login_required
async def verify(membership_id: int) -> Any:
    return await _decide(membership_id, "verify")


@blueprint.post("/memberships/<id:membership_id>/reject")
@login_required
async def reject(membership_id: int) -> Any:
    return await _decide(membership_id, "reject")


@blueprint.post("/memberships/<id:membership_id>/party")
@login_required
async def party(membership_id: int) -> Any:
    return await _decide(membership_id, "party")


@blueprint.post("/memberships/<id:membership_id>/role")
@login_required
async def role(membership_id: int) -> Any:
    return await _decide(membership_id, "role")
