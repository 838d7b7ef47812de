"""Charity-sale reservations under contention, against the domain actions on a real database.

    python -m bench.market [--buyers 50] [--rounds 5] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Three runs of `--buyers` neighbours reserving at the same moment, each in its own transaction:
- baseline: every buyer reserves the one unit of a different item (no two touch the same row);
- last unit: every buyer reserves the one unit of the same item (exactly one may get it; the rest get 409);
- shared stock: every buyer reserves one of `--buyers` units of the same item (all get one, one at a time).

Each run is checked (one winner for the last unit, no unit oversold, the counts add up) and timed; the report
is the median wall time per round and each contended run's ratio to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.fanout import database
from forum.access import standing_in
from forum.actions import communities, memberships, reservations, sale_items, sales
from forum.db import Database
from forum.errors import DomainError
from forum.models import CharitySale, Community, SaleItem, User
from forum.timeutil import utcnow


async def _setup(db: Database, buyers: int) -> tuple[Community, User, list[User]]:
    async with db.unit_of_work() as session:
        district = await communities.create_district(session, name="宝山区", slug="bench-market")
        community = await communities.create_community(session, district=district, name="月浦新村", slug="bench-market")
        # Accounts made directly, with an unusable password: hashing hundreds would dominate the setup.
        people = [User(username=f"buyer{n}", display_name=f"邻居{n}", password_hash="!") for n in range(buyers + 1)]
        session.add_all(people)
        await session.flush()
        for person in people:
            await memberships.add_verified_member(session, user=person, community=community)
    return community, people[0], people[1:]


async def _sale(
    db: Database, organiser: User, community: Community, quantities: list[int]
) -> tuple[CharitySale, list[SaleItem]]:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, organiser, community)
        sale = await sales.create_sale(
            session,
            actor=organiser,
            community=community,
            standing=standing,
            title="义卖压测",
            cause="测试",
            pickup="居委会",
            starts_at=utcnow() - timedelta(minutes=1),
            ends_at=utcnow() + timedelta(days=1),
        )
        items = [
            await sale_items.donate_item(
                session,
                actor=organiser,
                sale=sale,
                standing=standing,
                title=f"物品{n}",
                description="",
                price="5",
                quantity=q,
            )
            for n, q in enumerate(quantities)
        ]
    return sale, items


async def _reserve(db: Database, community: Community, buyer: User, sale: CharitySale, item: SaleItem) -> bool:
    async with db.unit_of_work() as session:
        standing = await standing_in(session, buyer, community)
        try:
            await reservations.reserve(session, actor=buyer, sale=sale, item=item, standing=standing, quantity=1)
        except DomainError as error:
            assert error.status == 409, error
            return False
    return True


async def _run(db: Database, community: Community, organiser: User, buyers: list[User], kind: str) -> float:
    n = len(buyers)
    quantities = {"baseline": [1] * n, "last unit": [1], "shared stock": [n]}[kind]
    sale, items = await _sale(db, organiser, community, quantities)
    targets = items if kind == "baseline" else [items[0]] * n
    started = time.perf_counter()
    won = await asyncio.gather(*(_reserve(db, community, b, sale, t) for b, t in zip(buyers, targets, strict=True)))
    elapsed = time.perf_counter() - started
    expected = 1 if kind == "last unit" else n
    assert sum(won) == expected, (kind, sum(won))
    async with db.read_only() as session:
        for item in items:
            stored = await session.get(SaleItem, item.id)
            assert stored is not None and stored.reserved + stored.sold <= stored.quantity
    return elapsed


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL server (a throwaway database is made); default SQLite")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as var:
        async with database(options.database_url, Path(var)) as url:
            db = Database(url)
            try:
                community, organiser, buyers = await _setup(db, options.buyers)
                times: dict[str, list[float]] = {"baseline": [], "last unit": [], "shared stock": []}
                for _round in range(options.rounds):
                    for kind in times:
                        times[kind].append(await _run(db, community, organiser, buyers, kind))
            finally:
                await db.dispose()
    database_name = "PostgreSQL" if options.database_url else "SQLite"
    print(f"{database_name}, {options.buyers} buyers at once, median of {options.rounds} rounds:")
    base = statistics.median(times["baseline"])
    for kind, values in times.items():
        median = statistics.median(values)
        print(f"  {kind:13} {median * 1000:8.1f} ms  ({median / base:4.2f}× baseline)  all checks passed")


if __name__ == "__main__":
    asyncio.run(main())
