"""Charity sales (义卖) as pages: a community's sales and the form to start one, a sale with its items, the
donation form, reservations and the organiser's desk, closing, and the summary with its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from quart import Blueprint, Response, current_app, redirect, request, url_for
from quart_rate_limiter import rate_limit

from forum.access import (
    access_community,
    access_community_content,
    access_reservation,
    access_sale,
    access_sale_item,
    require_reader,
)
from forum.actions import reservations, sale_items, sales
from forum.errors import Forbidden, InvalidInput
from forum.i18n import N_, gettext
from forum.models import CharitySale, Community, SaleStatus, id_of
from forum.paths import sale_path
from forum.permissions import CommunityStanding
from forum.queries.sales import may_run, sale_summary, sale_view, sales_of, summary_rows
from forum.queries.threads import latest_event_id
from forum.web.context import commit, db_session, login_required, notify, require_user
from forum.web.ratelimits import MARKET_LIMITS
from forum.web.templating import render_template
from forum.web.uploads import uploaded_images

blueprint = Blueprint("sales", __name__)

SALE_FIELDS = ("title", "cause", "pickup", "starts_at", "ends_at", "target", "hold_hours")


@blueprint.get("/c/<slug>/sales")
@login_required
async def index(slug: str) -> Any:
    community, standing = await access_community_content(db_session(), require_user(), slug)
    last_event_id = await latest_event_id(db_session())  # before the list: a sale started in between is replayed
    return await render_template(
        "sales/index.html",
        community=community,
        rows=await sales_of(db_session(), community),
        can_start=standing.is_verified_member,
        last_event_id=last_event_id,
    )


@blueprint.get("/c/<slug>/sales/new")
@login_required
async def new(slug: str) -> Any:
    community, standing = await access_community(db_session(), require_user(), slug)
    return await _new_page(community, standing, form={"hold_hours": "24"}, errors={}, status=200)


async def _new_page(
    community: Community, standing: CommunityStanding, *, form: Any, errors: dict[str, str], status: int
) -> Any:
    require_reader(standing)
    if not standing.is_verified_member:
        raise Forbidden(N_("Only verified members of this community can take part in its charity sales."))
    return await render_template(
        "sales/new.html", community=community, form=form, errors=errors, hold_range=sales.HOLD_HOURS
    ), status


@blueprint.post("/c/<slug>/sales")
@login_required
@rate_limit(limits=MARKET_LIMITS)
async def create(slug: str) -> Any:
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    form = await request.form
    try:
        sale = await sales.create_sale(
            db_session(),
            actor=user,
            community=community,
            standing=standing,
            zone=current_app.config["TIMEZONE"],
            **{name: form.get(name) for name in SALE_FIELDS},
        )
    except InvalidInput as error:
        return await _new_page(community, standing, form=form, errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("Your charity sale is open. Invite neighbours to donate items."))
    return redirect(sale_path(id_of(sale)))


async def _sale_page(
    sale: CharitySale,
    community: Community,
    standing: CommunityStanding,
    *,
    form: Any = None,
    errors: dict[str, str] | None = None,
    item_errors: dict[int, str] | None = None,
    status: int = 200,
) -> Any:
    user = require_user()
    last_event_id = await latest_event_id(db_session())  # before the sale: a change in between is replayed
    view = await sale_view(db_session(), sale, user, standing)
    return await render_template(
        "sales/show.html",
        community=community,
        view=view,
        can_donate=standing.is_verified_member and sale.status == SaleStatus.OPEN,
        can_reserve=standing.is_verified_member,
        max_images=sale_items.MAX_IMAGES,
        form=form or {},
        errors=errors or {},
        item_errors=item_errors or {},
        last_event_id=last_event_id,
    ), status


@blueprint.get("/sales/<id:sale_id>")
@login_required
async def show(sale_id: int) -> Any:
    sale, community, standing = await access_sale(db_session(), require_user(), sale_id)
    return await _sale_page(sale, community, standing)


@blueprint.post("/sales/<id:sale_id>/items")
@login_required
@rate_limit(limits=MARKET_LIMITS)
async def donate(sale_id: int) -> Any:
    user = require_user()
    sale, community, standing = await access_sale(db_session(), user, sale_id)
    form = await request.form
    try:
        item = await sale_items.donate_item(
            db_session(),
            actor=user,
            sale=sale,
            standing=standing,
            title=form.get("title"),
            description=form.get("description", ""),
            price=form.get("price"),
            quantity=form.get("quantity"),
            images=await uploaded_images(most=sale_items.MAX_IMAGES, too_many=sale_items.TOO_MANY_FOR_ITEM),
        )
    except InvalidInput as error:
        if error.status == 409:  # closed meanwhile: the item was written, and goes with the rollback
            await db_session().rollback()
            raise
        return await _sale_page(
            sale, community, standing, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    await notify(N_("Thank you: your item is in the sale."))
    return redirect(f"{sale_path(sale_id)}#item-{item.id}")


@blueprint.post("/sales/items/<id:item_id>/reserve")
@login_required
async def reserve(item_id: int) -> Any:
    user = require_user()
    item, sale, community, standing = await access_sale_item(db_session(), user, item_id)
    form = await request.form
    try:
        await reservations.reserve(
            db_session(), actor=user, sale=sale, item=item, standing=standing, quantity=form.get("quantity", "1")
        )
    except InvalidInput as error:  # refused before anything was written
        message = " ".join(error.translated_fields().values())
        return await _sale_page(sale, community, standing, item_errors={item_id: message}, status=error.status)
    await commit()
    await notify(
        N_("Reserved for you for %(hours)d hours: pay and pick it up at %(pickup)s."),
        hours=sale.hold_hours,
        pickup=sale.pickup,
    )
    return redirect(f"{sale_path(id_of(sale))}#item-{item_id}")


_STEPS = {
    "cancel": (reservations.cancel_reservation, N_("The reservation is cancelled.")),
    "paid": (reservations.mark_paid, N_("Payment recorded.")),
    "handed-over": (reservations.hand_over, N_("Hand-over recorded.")),
}


@blueprint.post("/sales/reservations/<id:reservation_id>/<step>")
@login_required
async def reservation_step(reservation_id: int, step: str) -> Any:
    user = require_user()
    reservation, item, sale, community, standing = await access_reservation(db_session(), user, reservation_id)
    if step not in _STEPS:
        return await _sale_page(sale, community, standing, status=404)
    action, done = _STEPS[step]
    try:
        await action(db_session(), actor=user, sale=sale, item=item, reservation=reservation, standing=standing)
    except InvalidInput as error:  # refused before anything was written
        message = " ".join(error.translated_fields().values())
        return await _sale_page(sale, community, standing, item_errors={id_of(item): message}, status=error.status)
    await commit()
    await notify(done)
    return redirect(f"{sale_path(id_of(sale))}#desk" if step != "cancel" else sale_path(id_of(sale)))


@blueprint.post("/sales/<id:sale_id>/close")
@login_required
async def close(sale_id: int) -> Any:
    user = require_user()
    sale, community, standing = await access_sale(db_session(), user, sale_id)
    try:
        await sales.close_sale(db_session(), actor=user, sale=sale, standing=standing)
    except InvalidInput as error:  # refused before anything was written
        return await _sale_page(sale, community, standing, errors=error.translated_fields(), status=error.status)
    await commit()
    await notify(N_("The sale is closed. Record the remaining payments, then publish the summary."))
    return redirect(url_for("sales.summary", sale_id=sale_id))


async def _summary_page(
    sale: CharitySale,
    community: Community,
    standing: CommunityStanding,
    *,
    form: Any,
    errors: dict[str, str],
    status: int,
) -> Any:
    user = require_user()
    return await render_template(
        "sales/summary.html",
        community=community,
        summary=await sale_summary(db_session(), sale),
        may_run=may_run(user, sale, standing),
        form=form,
        errors=errors,
        summary_max=sales.SUMMARY_MAX,
    ), status


@blueprint.get("/sales/<id:sale_id>/summary")
@login_required
async def summary(sale_id: int) -> Any:
    sale, community, standing = await access_sale(db_session(), require_user(), sale_id)
    return await _summary_page(sale, community, standing, form={}, errors={}, status=200)


@blueprint.post("/sales/<id:sale_id>/summary")
@login_required
async def publish(sale_id: int) -> Any:
    user = require_user()
    sale, community, standing = await access_sale(db_session(), user, sale_id)
    form = await request.form
    try:
        await sales.publish_summary(db_session(), actor=user, sale=sale, standing=standing, summary=form.get("summary"))
    except InvalidInput as error:  # refused before anything was written
        return await _summary_page(
            sale, community, standing, form=form, errors=error.translated_fields(), status=error.status
        )
    await commit()
    await notify(N_("The summary is published to the community."))
    return redirect(url_for("sales.summary", sale_id=sale_id))


@blueprint.get("/sales/<id:sale_id>/summary.csv")
@login_required
async def summary_csv(sale_id: int) -> Any:
    """The summary as a spreadsheet: one row per item and the total, UTF-8 with a byte-order mark so that
    Excel and WPS open the Chinese text correctly."""
    sale, _community, _standing = await access_sale(db_session(), require_user(), sale_id)
    header = [gettext(name) for name in (N_("Item"), N_("Donor"), N_("Price (yuan)"), N_("Quantity"), N_("Sold"))]
    header.append(gettext(N_("Amount (yuan)")))
    out = io.StringIO()
    summary = await sale_summary(db_session(), sale)
    csv.writer(out).writerows(summary_rows(summary, header, gettext(N_("Total"))))
    name = f"sale-{sale_id}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}; filename*=UTF-8''{quote(name)}"},
    )
