"""Swaps and give-aways: the state machine of listings and offers with every refused step, bad input, the draw
among those who asked in a claim window, and the races (two acceptances at once, expiry against acceptance,
both sides confirming at once). Both databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import col

from forum.access import standing_in
from forum.actions import flags, hiding, listings, offers
from forum.db import Database
from forum.errors import DomainError, Forbidden
from forum.flaggables import ListingItem
from forum.models import (
    AuditEntry,
    Listing,
    ListingKind,
    ListingStatus,
    Notification,
    NotificationKind,
    Offer,
    OfferStatus,
    Role,
    Thread,
    User,
)
from forum.timeutil import utcnow
from tests.factories import make_community, make_listing, make_members, make_offer, make_pending, make_user


async def _step(db: Database, actor: User, step: str, listing_id: int, offer_id: int | None = None) -> object:
    async with db.unit_of_work() as session:
        listing = await session.get(Listing, listing_id)
        assert listing is not None
        if step == "draw":
            return await offers.draw_lot(session, actor=actor, listing=listing)
        if step == "renew":
            return await listings.renew(session, actor=actor, listing=listing)
        offer = await session.get(Offer, offer_id)
        assert offer is not None
        action = {
            "accept": offers.accept_offer,
            "decline": offers.decline_offer,
            "withdraw": offers.withdraw_offer,
            "confirm": offers.confirm_handover,
            "call_off": offers.call_off,
        }[step]
        return await action(session, actor=actor, listing=listing, offer=offer)


async def _status(db: Database, model: type[Listing] | type[Offer], row_id: int | None) -> str:
    async with db.read_only() as session:
        row = await session.get(model, row_id)
        assert row is not None
        return row.status


async def _refused(coroutine: object, status: int) -> DomainError:
    try:
        await coroutine  # type: ignore[misc]
    except DomainError as error:
        assert error.status == status, (error.status, error)
        return error
    raise AssertionError("not refused")


async def test_a_swap_runs_from_offer_to_both_hand_overs_and_refuses_every_wrong_step(db: Database) -> None:
    community = await make_community(db)
    owner, maker, other, third = await make_members(
        db, community=community, usernames=["x_owner", "x_maker", "x_other", "x_third"]
    )
    pram = await make_listing(db, owner=owner, community=community)
    bike = await make_listing(db, owner=maker, community=community, title="儿童自行车", wanted="婴儿推车")
    assert pram.thread_id is not None and pram.expires_at - pram.created_at == timedelta(days=30)

    await _refused(make_offer(db, maker=owner, listing=pram), 403)  # not for one's own listing
    offer = await make_offer(db, maker=maker, listing=pram, offered_listing_id=bike.id)
    await _refused(make_offer(db, maker=maker, listing=pram), 409)  # one offer per neighbour
    rival = await make_offer(db, maker=other, listing=pram, message="我出两本绘本")
    late = await make_offer(db, maker=third, listing=pram, message="我也想要")
    await _step(db, third, "withdraw", pram.id or 0, late.id)
    await _refused(_step(db, third, "withdraw", pram.id or 0, late.id), 409)
    await _refused(_step(db, maker, "accept", pram.id or 0, offer.id), 403)  # only the owner decides

    await _step(db, owner, "accept", pram.id or 0, offer.id)
    assert await _status(db, Listing, pram.id) == ListingStatus.RESERVED
    assert await _status(db, Listing, bike.id) == ListingStatus.RESERVED  # both listings of the deal
    assert await _status(db, Offer, rival.id) == OfferStatus.DECLINED
    await _refused(_step(db, owner, "accept", pram.id or 0, rival.id), 409)
    await _refused(make_offer(db, maker=third, listing=pram), 409)  # reserved: no more offers
    async with db.read_only() as session:
        told = Counter((row.user_id, row.kind) for row in (await session.execute(select(Notification))).scalars().all())
    assert told[(maker.id, NotificationKind.OFFER_ACCEPTED)] == 1
    assert told[(other.id, NotificationKind.OFFER_DECLINED)] == 1
    assert told[(owner.id, NotificationKind.OFFER)] == 1  # three offers gathered in one

    await _refused(_step(db, other, "confirm", pram.id or 0, offer.id), 403)
    assert await _step(db, owner, "confirm", pram.id or 0, offer.id) is False
    await _refused(_step(db, owner, "confirm", pram.id or 0, offer.id), 409)  # once
    assert await _step(db, maker, "confirm", pram.id or 0, offer.id) is True
    assert [await _status(db, Listing, each.id) for each in (pram, bike)] == [ListingStatus.DONE] * 2
    assert await _status(db, Offer, offer.id) == OfferStatus.DONE
    await _refused(_step(db, owner, "renew", pram.id or 0), 409)
    await _refused(_step(db, maker, "call_off", pram.id or 0, offer.id), 409)


async def test_a_deal_called_off_opens_both_listings_again(db: Database) -> None:
    community = await make_community(db)
    owner, maker = await make_members(db, community=community, usernames=["c_owner", "c_maker"])
    pram = await make_listing(db, owner=owner, community=community)
    bike = await make_listing(db, owner=maker, community=community, title="儿童自行车")
    offer = await make_offer(db, maker=maker, listing=pram, offered_listing_id=bike.id)
    await _step(db, owner, "accept", pram.id or 0, offer.id)
    await _step(db, maker, "call_off", pram.id or 0, offer.id)
    assert [await _status(db, Listing, each.id) for each in (pram, bike)] == [ListingStatus.OPEN] * 2
    async with db.read_only() as session:
        kinds = (
            await session.execute(select(Notification.kind).where(col(Notification.user_id) == owner.id))
        ).scalars()
        assert NotificationKind.CALLED_OFF in set(kinds)  # the owner is told the taker called it off
    again = await make_offer(db, maker=maker, listing=pram, message="还是想换")  # made again, same row
    assert again.id == offer.id and again.status == OfferStatus.OPEN


async def test_bad_listings_and_foreign_or_taken_listings_offered_are_refused_by_name(db: Database) -> None:
    community, elsewhere = await make_community(db), await make_community(db)
    owner, maker, other = await make_members(db, community=community, usernames=["b_owner", "b_maker", "b_other"])
    (stranger,) = await make_members(db, community=elsewhere, usernames=["b_stranger"])
    pending = await make_user(db, username="b_pending")
    await make_pending(db, user=pending, community=community)
    for fields, field in (
        ({"kind": "sell"}, "kind"),
        ({"category": "cars"}, "category"),
        ({"condition": "broken"}, "condition"),
        ({"wanted": ""}, "wanted"),
        ({"title": "x"}, "title"),
        ({"kind": "swap", "claim_hours": "5"}, "claim_hours"),
        ({"kind": "free", "claim_hours": "100"}, "claim_hours"),
    ):
        error = await _refused(make_listing(db, owner=owner, community=community, **fields), 422)
        assert field in error.fields, (fields, error.fields)  # type: ignore[attr-defined]
    await _refused(make_listing(db, owner=pending, community=community), 403)

    pram = await make_listing(db, owner=owner, community=community)
    theirs = await make_listing(db, owner=other, community=community, title="别人的台灯")
    foreign = await make_listing(db, owner=stranger, community=elsewhere, title="外小区的书架")
    mine_done = await make_listing(db, owner=maker, community=community, title="旧风扇")
    async with db.unit_of_work() as session:
        await session.execute(update(Listing).where(col(Listing.id) == mine_done.id).values(status=ListingStatus.DONE))
    for offered in (theirs.id, foreign.id, mine_done.id, pram.id, "abc"):
        error = await _refused(make_offer(db, maker=maker, listing=pram, offered_listing_id=offered), 422)
        assert "offered_listing_id" in error.fields  # type: ignore[attr-defined]
    gift = await make_listing(db, owner=owner, community=community, kind="free", title="闲置花盆", wanted="")
    mine = await make_listing(db, owner=maker, community=community, title="我的书")
    error = await _refused(make_offer(db, maker=maker, listing=gift, offered_listing_id=mine.id), 422)
    assert "offered_listing_id" in error.fields  # type: ignore[attr-defined]
    async with db.read_only() as session:
        assert (await session.execute(select(Offer))).scalars().all() == []


async def test_of_two_offers_accepted_at_the_same_moment_exactly_one_wins(db: Database) -> None:
    community = await make_community(db)
    owner, first, second = await make_members(db, community=community, usernames=["r_owner", "r_first", "r_second"])
    for _round in range(3):
        pram = await make_listing(db, owner=owner, community=community)
        offers = [await make_offer(db, maker=maker, listing=pram) for maker in (first, second)]
        results = await asyncio.gather(
            *(_step(db, owner, "accept", pram.id or 0, offer.id) for offer in offers), return_exceptions=True
        )
        refused = [result for result in results if isinstance(result, DomainError)]
        assert len(refused) == 1 and refused[0].status == 409, results
        statuses = sorted([await _status(db, Offer, offer.id) for offer in offers])
        assert statuses == [OfferStatus.ACCEPTED, OfferStatus.DECLINED]


async def test_expiry_never_takes_a_listing_an_offer_was_just_accepted_for(db: Database) -> None:
    community = await make_community(db)
    owner, maker = await make_members(db, community=community, usernames=["e_owner", "e_maker"])
    for _round in range(3):
        pram = await make_listing(db, owner=owner, community=community)
        offer = await make_offer(db, maker=maker, listing=pram)
        async with db.unit_of_work() as session:  # its 30 days are over
            await session.execute(
                update(Listing).where(col(Listing.id) == pram.id).values(expires_at=utcnow() - timedelta(seconds=1))
            )

        async def expire() -> int:
            async with db.unit_of_work() as session:
                return await listings.expire_due(session, now=utcnow())

        results = await asyncio.gather(
            _step(db, owner, "accept", pram.id or 0, offer.id), expire(), return_exceptions=True
        )
        status = await _status(db, Listing, pram.id)
        if status == ListingStatus.RESERVED:
            assert results[1] == 0 and await _status(db, Offer, offer.id) == OfferStatus.ACCEPTED
        else:
            assert status == ListingStatus.EXPIRED and isinstance(results[0], DomainError)
            assert await _status(db, Offer, offer.id) == OfferStatus.OPEN
            await _step(db, owner, "renew", pram.id or 0)
            assert await _status(db, Listing, pram.id) == ListingStatus.OPEN


async def test_both_sides_confirming_at_the_same_moment_finish_the_deal(db: Database) -> None:
    community = await make_community(db)
    owner, maker = await make_members(db, community=community, usernames=["h_owner", "h_maker"])
    for _round in range(3):
        pram = await make_listing(db, owner=owner, community=community)
        offer = await make_offer(db, maker=maker, listing=pram)
        await _step(db, owner, "accept", pram.id or 0, offer.id)
        done = await asyncio.gather(
            _step(db, owner, "confirm", pram.id or 0, offer.id), _step(db, maker, "confirm", pram.id or 0, offer.id)
        )
        assert sorted(done) == [False, True]  # type: ignore[type-var]
        assert await _status(db, Listing, pram.id) == ListingStatus.DONE


async def test_a_give_away_is_drawn_by_lot_among_those_who_asked_in_time(db: Database) -> None:
    community = await make_community(db)
    owner, *askers = await make_members(db, community=community, usernames=["g_owner", "g_a", "g_b", "g_c", "g_late"])
    gift = await make_listing(
        db, owner=owner, community=community, kind="free", wanted="", title="电饭煲", claim_hours="2"
    )
    assert gift.kind == ListingKind.FREE and gift.claim_until is not None
    offers = [await make_offer(db, maker=asker, listing=gift, message="想要") for asker in askers[:3]]
    await _refused(_step(db, owner, "accept", gift.id or 0, offers[0].id), 409)  # decided by lot only
    await _refused(_step(db, owner, "draw", gift.id or 0), 409)  # still asking time
    async with db.unit_of_work() as session:  # the claim window ends
        await session.execute(update(Listing).where(col(Listing.id) == gift.id).values(claim_until=utcnow()))
    await _refused(make_offer(db, maker=askers[3], listing=gift, message="我也要"), 409)
    await _refused(_step(db, askers[0], "draw", gift.id or 0), 403)
    chosen = await _step(db, owner, "draw", gift.id or 0)
    assert isinstance(chosen, Offer) and chosen.by_lot and chosen.id in {offer.id for offer in offers}
    statuses = Counter([await _status(db, Offer, offer.id) for offer in offers])
    assert statuses == {OfferStatus.ACCEPTED: 1, OfferStatus.DECLINED: 2}
    async with db.read_only() as session:
        audited = (
            await session.execute(select(AuditEntry).where(col(AuditEntry.action) == "listing.drawn"))
        ).scalar_one()
    assert "among 3" in audited.detail
    await _refused(_step(db, owner, "draw", gift.id or 0), 409)  # drawn once


async def test_the_draw_gives_everyone_who_asked_a_fair_chance(db: Database) -> None:
    community = await make_community(db)
    owner, *askers = await make_members(db, community=community, usernames=["f_owner", "f_a", "f_b", "f_c"])
    wins: Counter[int] = Counter()
    for _round in range(60):
        gift = await make_listing(
            db, owner=owner, community=community, kind="free", wanted="", title="绿萝", claim_hours="1"
        )
        for asker in askers:
            await make_offer(db, maker=asker, listing=gift, message="想要")
        async with db.unit_of_work() as session:
            await session.execute(update(Listing).where(col(Listing.id) == gift.id).values(claim_until=utcnow()))
        chosen = await _step(db, owner, "draw", gift.id or 0)
        wins[chosen.maker_id] += 1  # type: ignore[attr-defined]
    # 60 draws among 3: each wins 20 on average; below 5 happens with probability under 1e-5.
    assert set(wins) == {asker.id for asker in askers} and min(wins.values()) >= 5, wins


async def test_a_secretary_removes_a_listing_with_a_reason_the_owner_is_told(db: Database) -> None:
    community = await make_community(db)
    owner, maker, reporter = await make_members(db, community=community, usernames=["m_owner", "m_maker", "m_reporter"])
    (secretary,) = await make_members(db, community=community, usernames=["m_secretary"], role=Role.SECRETARY)
    pram = await make_listing(db, owner=owner, community=community)
    bike = await make_listing(db, owner=maker, community=community, title="儿童自行车")
    offer = await make_offer(db, maker=maker, listing=pram, offered_listing_id=bike.id)
    await _step(db, owner, "accept", pram.id or 0, offer.id)
    async with db.unit_of_work() as session:
        listing = await session.get(Listing, pram.id)
        assert listing is not None
        standing = await standing_in(session, reporter, community)
        flagged = await flags.flag(
            session, actor=reporter, item=ListingItem(listing), standing=standing, reason="other", note="像是在卖货"
        )
        assert flagged is True
    async with db.unit_of_work() as session:
        listing = await session.get(Listing, pram.id)
        assert listing is not None
        standing = await standing_in(session, reporter, community)
        again = await flags.flag(session, actor=reporter, item=ListingItem(listing), standing=standing, reason="spam")
        assert again is False  # one member counts once
    async with db.unit_of_work() as session:
        listing = await session.get(Listing, pram.id)
        assert listing is not None
        try:
            await hiding.set_hidden(
                session,
                actor=owner,
                item=ListingItem(listing),
                standing=await standing_in(session, owner, community),
                hidden=True,
                reason="x",
            )
        except Forbidden:
            pass
        else:
            raise AssertionError("an owner removed a listing")
    async with db.unit_of_work() as session:
        listing = await session.get(Listing, pram.id)
        assert listing is not None
        standing = await standing_in(session, secretary, community)
        await hiding.set_hidden(
            session,
            actor=secretary,
            item=ListingItem(listing),
            standing=standing,
            hidden=True,
            reason="小区群里禁止商业广告",
        )
    async with db.read_only() as session:
        removed = await session.get(Listing, pram.id)
        kinds = Counter(
            (row.user_id, row.kind) for row in (await session.execute(select(Notification))).scalars().all()
        )
        audited = (
            await session.execute(select(AuditEntry).where(col(AuditEntry.action) == "listing.removed"))
        ).scalar_one()
    assert removed is not None and removed.status == ListingStatus.REMOVED
    assert removed.removed_reason == "小区群里禁止商业广告" and "小区群里禁止商业广告" in audited.detail
    assert await _status(db, Listing, bike.id) == ListingStatus.OPEN  # the deal was called off
    assert await _status(db, Offer, offer.id) == OfferStatus.CALLED_OFF
    assert kinds[(owner.id, NotificationKind.REMOVED)] == 1
    assert kinds[(maker.id, NotificationKind.CALLED_OFF)] == 1  # the deal they were in is off
    assert kinds[(secretary.id, NotificationKind.FLAG)] == 1


async def test_removing_a_listing_offered_in_exchange_calls_that_deal_off_and_hides_its_discussion(
    db: Database,
) -> None:
    community = await make_community(db)
    owner, maker = await make_members(db, community=community, usernames=["o_owner", "o_maker"])
    (secretary,) = await make_members(db, community=community, usernames=["o_secretary"], role=Role.SECRETARY)
    pram = await make_listing(db, owner=owner, community=community)
    bike = await make_listing(db, owner=maker, community=community, title="儿童自行车")
    offer = await make_offer(db, maker=maker, listing=pram, offered_listing_id=bike.id)
    await _step(db, owner, "accept", pram.id or 0, offer.id)
    async with db.unit_of_work() as session:
        listing = await session.get(Listing, bike.id)
        assert listing is not None
        standing = await standing_in(session, secretary, community)
        await hiding.set_hidden(
            session, actor=secretary, item=ListingItem(listing), standing=standing, hidden=True, reason="违规"
        )
    assert await _status(db, Offer, offer.id) == OfferStatus.CALLED_OFF
    assert await _status(db, Listing, pram.id) == ListingStatus.OPEN
    async with db.read_only() as session:
        thread = await session.get(Thread, bike.thread_id)
        told = (
            await session.execute(
                select(Notification.kind).where(
                    col(Notification.user_id) == owner.id, col(Notification.kind) == NotificationKind.CALLED_OFF
                )
            )
        ).all()
    assert thread is not None and thread.is_deleted and len(told) == 1


async def test_a_lot_give_away_whose_deal_falls_through_opens_for_the_owner_to_pick(db: Database) -> None:
    community = await make_community(db)
    owner, first, second = await make_members(db, community=community, usernames=["l_owner", "l_first", "l_second"])
    gift = await make_listing(
        db, owner=owner, community=community, kind="free", wanted="", title="书架", claim_hours="1"
    )
    offer = await make_offer(db, maker=first, listing=gift, message="想要")
    async with db.unit_of_work() as session:
        await session.execute(update(Listing).where(col(Listing.id) == gift.id).values(claim_until=utcnow()))
    await _step(db, owner, "draw", gift.id or 0)
    await _step(db, first, "call_off", gift.id or 0, offer.id)
    async with db.read_only() as session:
        reopened = await session.get(Listing, gift.id)
    assert reopened is not None and reopened.status == ListingStatus.OPEN and reopened.claim_until is None
    again = await make_offer(db, maker=second, listing=gift, message="我也想要")
    await _step(db, owner, "accept", gift.id or 0, again.id)
    assert await _status(db, Listing, gift.id) == ListingStatus.RESERVED


async def test_an_id_too_large_for_the_database_offered_in_exchange_is_refused_by_name(db: Database) -> None:
    community = await make_community(db)
    owner, maker = await make_members(db, community=community, usernames=["i_owner", "i_maker"])
    pram = await make_listing(db, owner=owner, community=community)
    for huge in (3_000_000_000, 2**70, "9" * 30, -1):
        error = await _refused(make_offer(db, maker=maker, listing=pram, offered_listing_id=huge), 422)
        assert "offered_listing_id" in error.fields  # type: ignore[attr-defined]
