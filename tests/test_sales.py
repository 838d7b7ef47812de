"""Charity sales: the state machine of sales, items and reservations, every refused transition, bad input, and
the races (the last unit, a lapse against a payment). Both databases."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from forum.access import standing_in
from forum.actions import reservations, sales
from forum.app import create_app
from forum.db import Database
from forum.errors import DomainError, Forbidden, InvalidInput, NotFound
from forum.models import (
    AuditEntry,
    CharitySale,
    Community,
    Event,
    Notification,
    NotificationKind,
    ReservationStatus,
    Role,
    SaleItem,
    SaleReservation,
    User,
)
from forum.timeutil import utcnow
from tests.conftest import app_config
from tests.factories import (
    make_community,
    make_member,
    make_members,
    make_pending,
    make_reservation,
    make_sale,
    make_sale_item,
    make_user,
)


async def _as(db: Database, actor: User, community: Community, action: str, reservation_id: int) -> None:
    async with db.unit_of_work() as session:
        reservation = await session.get(SaleReservation, reservation_id)
        assert reservation is not None
        item = await session.get(SaleItem, reservation.item_id)
        assert item is not None
        sale = await session.get(CharitySale, item.sale_id)
        assert sale is not None
        standing = await standing_in(session, actor, community)
        step = {
            "cancel": reservations.cancel_reservation,
            "pay": reservations.mark_paid,
            "hand_over": reservations.hand_over,
        }[action]
        await step(session, actor=actor, sale=sale, item=item, reservation=reservation, standing=standing)


async def _state(db: Database, sale_id: int, item_id: int) -> tuple[int, int, int]:
    async with db.read_only() as session:
        item, sale = await session.get(SaleItem, item_id), await session.get(CharitySale, sale_id)
        assert item is not None and sale is not None
        return item.reserved, item.sold, sale.raised_cents


async def test_a_sale_runs_from_donation_to_hand_over_and_refuses_every_wrong_step(db: Database) -> None:
    community = await make_community(db)
    organiser, donor, buyer, other = await make_members(
        db, community=community, usernames=["s_org", "s_donor", "s_buyer", "s_other"]
    )
    (secretary,) = await make_members(db, community=community, usernames=["s_secretary"], role=Role.SECRETARY)
    sale = await make_sale(db, organiser=organiser, community=community)
    assert sale.target_cents == 50_000 and sale.hold_hours == 24
    item = await make_sale_item(db, donor=donor, sale=sale)
    assert (item.price_cents, item.quantity) == (1250, 3)
    sale_id, item_id = sale.id or 0, item.id or 0

    elsewhere = await make_sale(db, organiser=organiser, community=community, title="另一场义卖")
    with pytest.raises(NotFound):  # an item of one sale reserved through another
        async with db.unit_of_work() as session:
            standing = await standing_in(session, buyer, community)
            await reservations.reserve(session, actor=buyer, sale=elsewhere, item=item, standing=standing)
    first = await make_reservation(db, buyer=buyer, item=item, quantity="2")
    async with db.unit_of_work() as session:  # nor is a reservation of this sale ended through another
        standing = await standing_in(session, organiser, community)
        for step in (reservations.cancel_reservation, reservations.mark_paid, reservations.hand_over):
            with pytest.raises(NotFound):
                await step(session, actor=organiser, sale=elsewhere, item=item, reservation=first, standing=standing)
    assert first.status == ReservationStatus.HELD and first.expires_at > utcnow() + timedelta(hours=23)
    with pytest.raises(InvalidInput) as too_many:
        await make_reservation(db, buyer=other, item=item, quantity=2)
    assert too_many.value.status == 409
    second = await make_reservation(db, buyer=other, item=item)
    assert await _state(db, sale_id, item_id) == (3, 0, 0)

    # Cancelling: the buyer or the organiser, not a neighbour; once.
    with pytest.raises(Forbidden):
        await _as(db, buyer, community, "cancel", second.id or 0)
    await _as(db, other, community, "cancel", second.id or 0)
    with pytest.raises(InvalidInput):
        await _as(db, other, community, "cancel", second.id or 0)
    assert await _state(db, sale_id, item_id) == (2, 0, 0)

    # Payment: the organiser (or a secretary), once; then the hand-over, once.
    for outsider in (buyer, donor):
        with pytest.raises(Forbidden):
            await _as(db, outsider, community, "pay", first.id or 0)
    with pytest.raises(InvalidInput) as not_paid:
        await _as(db, organiser, community, "hand_over", first.id or 0)
    assert not_paid.value.status == 409
    await _as(db, organiser, community, "pay", first.id or 0)
    assert await _state(db, sale_id, item_id) == (0, 2, 2500)
    for action in ("pay", "cancel"):
        with pytest.raises(InvalidInput):
            await _as(db, organiser, community, action, first.id or 0)
    await _as(db, secretary, community, "hand_over", first.id or 0)
    with pytest.raises(InvalidInput):
        await _as(db, organiser, community, "hand_over", first.id or 0)
    async with db.read_only() as session:
        done = await session.get(SaleReservation, first.id)
        audit = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert done is not None and done.status == ReservationStatus.HANDED_OVER and done.ended_at is not None
    assert audit == ["sale.paid"]

    # Closed: nothing more donated or reserved; what is reserved can still be paid for.
    third = await make_reservation(db, buyer=buyer, item=item)
    async with db.unit_of_work() as session:
        loaded = await session.get(CharitySale, sale_id)
        assert loaded is not None
        with pytest.raises(Forbidden):
            await sales.close_sale(
                session, actor=buyer, sale=loaded, standing=await standing_in(session, buyer, community)
            )
        await sales.close_sale(
            session, actor=organiser, sale=loaded, standing=await standing_in(session, organiser, community)
        )
    with pytest.raises(InvalidInput) as over:
        await make_reservation(db, buyer=other, item=item)
    assert over.value.status == 409 and set(over.value.fields) == {"sale"}
    async with db.read_only() as session:
        closed = await session.get(CharitySale, sale_id)
    assert closed is not None and sale.status == "open"  # `sale` was loaded before the close
    for stale_or_fresh in (sale, closed):
        with pytest.raises(InvalidInput) as late:
            await make_sale_item(db, donor=donor, sale=stale_or_fresh)
        assert late.value.status == 409 and set(late.value.fields) == {"sale"}
    await _as(db, organiser, community, "pay", third.id or 0)
    assert await _state(db, sale_id, item_id) == (0, 3, 3750)


async def test_only_verified_members_take_part_and_bad_input_is_named_and_stores_nothing(db: Database) -> None:
    community = await make_community(db)
    (organiser,) = await make_members(db, community=community, usernames=["b_org"])
    waiting = await make_user(db, username="b_waiting")
    await make_pending(db, user=waiting, community=community)
    outsider = await make_user(db, username="b_outsider")
    await make_member(db, user=outsider, community=await make_community(db))
    for stranger in (waiting, outsider):
        with pytest.raises(Forbidden):
            await make_sale(db, organiser=stranger, community=community)

    now = utcnow()
    with pytest.raises(InvalidInput) as bad_sale:
        await make_sale(
            db,
            organiser=organiser,
            community=community,
            title="",
            ends_at=now - timedelta(hours=1),
            target="-5",
            hold_hours=0,
        )
    assert set(bad_sale.value.fields) == {"title", "ends_at", "target", "hold_hours"}
    with pytest.raises(InvalidInput) as backwards:
        await make_sale(db, organiser=organiser, community=community, starts_at=now + timedelta(days=3))
    assert set(backwards.value.fields) == {"ends_at"}

    sale = await make_sale(db, organiser=organiser, community=community, target="")
    assert sale.target_cents is None
    for price, quantity, fields in (
        ("-1", 1, {"price"}),
        ("12.345", 1, {"price"}),
        ("十元", 1, {"price"}),
        ("1000001", 1, {"price"}),
        ("5", 0, {"quantity"}),
        ("5", "-2", {"quantity"}),
        ("5", 1000, {"quantity"}),
        ("5", "两个", {"quantity"}),
        (None, None, {"price", "quantity"}),
    ):
        with pytest.raises(InvalidInput) as bad_item:
            await make_sale_item(db, donor=organiser, sale=sale, price=price, quantity=quantity)
        assert set(bad_item.value.fields) == fields, (price, quantity)
    free = await make_sale_item(db, donor=organiser, sale=sale, price="¥0", quantity="1")
    assert free.price_cents == 0
    for waiting_or_outsider in (waiting, outsider):
        with pytest.raises(Forbidden):
            await make_reservation(db, buyer=waiting_or_outsider, item=free)
    with pytest.raises(InvalidInput):
        await make_reservation(db, buyer=organiser, item=free, quantity=0)
    async with db.read_only() as session:
        counts = [
            (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (CharitySale, SaleItem, SaleReservation)
        ]
    assert counts == [1, 1, 0]


async def test_fifty_neighbours_reserving_the_last_unit_at_once_leave_one_reservation(db: Database) -> None:
    community = await make_community(db)
    organiser, donor = await make_members(db, community=community, usernames=["r_org", "r_donor"])
    buyers = await make_members(db, community=community, usernames=[f"r_buyer{n}" for n in range(50)])
    sale = await make_sale(db, organiser=organiser, community=community)
    item = await make_sale_item(db, donor=donor, sale=sale, quantity=1)

    outcomes = await asyncio.gather(
        *(make_reservation(db, buyer=buyer, item=item) for buyer in buyers), return_exceptions=True
    )

    won = [outcome for outcome in outcomes if isinstance(outcome, SaleReservation)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, DomainError)]
    assert len(won) == 1 and len(refused) == 49, [
        o for o in outcomes if not isinstance(o, SaleReservation | DomainError)
    ]
    assert {error.status for error in refused} == {409}
    assert all(set(error.fields) == {"quantity"} for error in refused if isinstance(error, InvalidInput))
    assert await _state(db, sale.id or 0, item.id or 0) == (1, 0, 0)
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(SaleReservation))).scalar_one() == 1


async def test_a_lapse_never_takes_a_fresh_or_paid_reservation_even_racing_the_payment(db: Database) -> None:
    community = await make_community(db)
    organiser, donor, buyer = await make_members(db, community=community, usernames=["l_org", "l_donor", "l_buyer"])
    sale = await make_sale(db, organiser=organiser, community=community, hold_hours=1)
    item = await make_sale_item(db, donor=donor, sale=sale, price="10", quantity=5)
    sale_id, item_id = sale.id or 0, item.id or 0

    for quantity in (1, 2):
        await make_reservation(db, buyer=buyer, item=item, quantity=quantity)
    async with db.unit_of_work() as session:
        assert await reservations.lapse_due(session, now=utcnow()) == 0  # not run out yet
    assert await _state(db, sale_id, item_id) == (3, 0, 0)
    async with db.unit_of_work() as session:
        assert await reservations.lapse_due(session, now=utcnow() + timedelta(hours=2)) == 2  # both, units summed
    async with db.unit_of_work() as session:
        assert await reservations.lapse_due(session, now=utcnow() + timedelta(hours=2)) == 0  # once
    assert await _state(db, sale_id, item_id) == (0, 0, 0)

    # An overdue reservation paid at the moment the job runs: exactly one of the two happens.
    for _ in range(5):
        overdue = await make_reservation(db, buyer=buyer, item=item)

        async def lapse_it() -> bool:
            async with db.unit_of_work() as session:
                return await reservations.lapse_due(session, now=utcnow() + timedelta(hours=2)) == 1

        async def pay_it(reservation: SaleReservation = overdue) -> bool:
            try:
                await _as(db, organiser, community, "pay", reservation.id or 0)
            except InvalidInput:
                return False
            return True

        lapsed, paid = await asyncio.gather(lapse_it(), pay_it())
        assert lapsed != paid
    reserved, sold, raised = await _state(db, sale_id, item_id)
    assert reserved == 0 and raised == sold * 1000 and 0 <= sold <= 5


async def test_each_process_gives_back_reservations_not_paid_in_time(db: Database, db_url: str, tmp_path: Path) -> None:
    community = await make_community(db)
    organiser, donor, buyer = await make_members(db, community=community, usernames=["j_org", "j_donor", "j_buyer"])
    sale = await make_sale(db, organiser=organiser, community=community, hold_hours=1)
    item = await make_sale_item(db, donor=donor, sale=sale, price="8", quantity=4)
    overdue, paid, fresh = [await make_reservation(db, buyer=buyer, item=item) for _ in range(3)]
    await _as(db, organiser, community, "pay", paid.id or 0)
    async with db.unit_of_work() as session:
        await session.execute(
            update(SaleReservation)
            .where(col(SaleReservation.id).in_([overdue.id, paid.id]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )

    app = create_app(app_config(db_url, tmp_path, SALE_LAPSE_SECONDS=0.05))
    async with app.test_app():
        for _ in range(100):  # the job's first round comes after one interval
            async with db.read_only() as session:
                stored = await session.get(SaleReservation, overdue.id)
            if stored is not None and stored.status == ReservationStatus.LAPSED:
                break
            await asyncio.sleep(0.05)
    async with db.read_only() as session:
        statuses = [
            (await session.get(SaleReservation, reservation.id)).status  # type: ignore[union-attr]
            for reservation in (overdue, paid, fresh)
        ]
    assert statuses == [ReservationStatus.LAPSED, ReservationStatus.PAID, ReservationStatus.HELD]
    assert await _state(db, sale.id or 0, item.id or 0) == (1, 1, 800)
    async with db.unit_of_work() as session:
        assert await reservations.lapse_due(session, now=utcnow()) == 0  # nothing else is due


async def test_the_total_raised_holds_amounts_past_32_bits(db: Database) -> None:
    community = await make_community(db)
    organiser, donor, buyer = await make_members(db, community=community, usernames=["t_org", "t_donor", "t_buyer"])
    sale = await make_sale(db, organiser=organiser, community=community)
    item = await make_sale_item(
        db, donor=donor, sale=sale, price="100000", quantity="999"
    )  # the highest price and count
    reservation = await make_reservation(db, buyer=buyer, item=item, quantity=999)
    await _as(db, organiser, community, "pay", reservation.id or 0)
    assert await _state(db, sale.id or 0, item.id or 0) == (0, 999, 9_990_000_000)  # fen: over 2^31


async def test_a_buyer_is_reminded_once_before_the_reservation_lapses_and_a_paid_one_never(db: Database) -> None:
    community = await make_community(db)
    organiser, donor, buyer = await make_members(db, community=community, usernames=["r_org", "r_donor", "r_buyer"])
    sale = await make_sale(db, organiser=organiser, community=community, hold_hours=1)
    item = await make_sale_item(db, donor=donor, sale=sale, price="5", quantity=3)
    due, paid = [await make_reservation(db, buyer=buyer, item=item) for _ in range(2)]
    assert due.remind_at is not None and due.expires_at - due.remind_at == timedelta(minutes=15)  # a quarter of 1 h
    await _as(db, organiser, community, "pay", paid.id or 0)
    async with db.unit_of_work() as session:
        assert await reservations.remind_due(session, now=utcnow()) == 0  # not yet
    async with db.unit_of_work() as session:  # both reach their reminder time; the paid one was cleared
        await session.execute(
            update(SaleReservation)
            .where(col(SaleReservation.id).in_([due.id, paid.id]))
            .values(remind_at=utcnow() - timedelta(seconds=1))
        )
    for _ in range(2):
        async with db.unit_of_work() as session:
            await reservations.remind_due(session, now=utcnow())
    async with db.read_only() as session:
        told = (
            await session.execute(
                select(Notification.user_id, Notification.subject).where(
                    col(Notification.kind) == NotificationKind.LAPSING
                )
            )
        ).all()
    assert told == [(buyer.id, f"reservation:{due.id}")]


async def test_a_sale_closes_on_its_own_when_its_end_has_passed(db: Database) -> None:
    community = await make_community(db)
    (organiser,) = await make_members(db, community=community, usernames=["e_org"])
    ended, running = (
        await make_sale(db, organiser=organiser, community=community),
        await make_sale(db, organiser=organiser, community=community),
    )
    async with db.unit_of_work() as session:
        await session.execute(
            update(CharitySale).where(col(CharitySale.id) == ended.id).values(ends_at=utcnow() - timedelta(seconds=1))
        )
    async with db.unit_of_work() as session:
        assert await sales.close_ended(session, now=utcnow()) == 1
    async with db.read_only() as session:
        statuses = [(await session.get(CharitySale, sale.id)).status for sale in (ended, running)]  # type: ignore[union-attr]
        changed = (await session.execute(select(Event).where(col(Event.room) == f"sale:{ended.id}"))).scalars().all()
    assert statuses == ["closed", "open"]
    assert [event.type for event in changed] == ["sale.changed"]
    assert json.loads(changed[0].payload)["status"] == "closed"


async def test_a_summary_waits_for_every_held_reservation_and_odd_dates_are_refused_by_name(db: Database) -> None:
    community = await make_community(db)
    organiser, donor, buyer = await make_members(db, community=community, usernames=["p_org", "p_donor", "p_buyer"])
    for starts in ("9999-12-31T23:00-10:00", "0001-01-01T00:00", "1900-01-01T09:00"):
        try:
            await make_sale(db, organiser=organiser, community=community, starts_at=starts)
        except InvalidInput as error:
            assert "starts_at" in error.fields, starts
        else:
            raise AssertionError(f"{starts} accepted")
    sale = await make_sale(db, organiser=organiser, community=community)
    item = await make_sale_item(db, donor=donor, sale=sale)
    held = await make_reservation(db, buyer=buyer, item=item)

    async def publish() -> None:
        async with db.unit_of_work() as session:
            loaded = await session.get(CharitySale, sale.id)
            assert loaded is not None
            standing = await standing_in(session, organiser, community)
            if loaded.status == "open":
                await sales.close_sale(session, actor=organiser, sale=loaded, standing=standing)
            await sales.publish_summary(session, actor=organiser, sale=loaded, standing=standing, summary="全部捐出")

    try:
        await publish()
    except InvalidInput as error:
        assert error.status == 409 and "sale" in error.fields
    else:
        raise AssertionError("published with a reservation held")
    await _as(db, organiser, community, "pay", held.id or 0)
    await publish()
    async with db.read_only() as session:
        published = await session.get(CharitySale, sale.id)
    assert published is not None and published.published_at is not None and published.raised_cents == 1250
