"""The `forum` command, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import CharitySale, DistrictAdmin, Membership, MembershipStatus, SaleItem, User
from forum.seed import DEMO_ACCOUNTS, DEMO_PENDING


def _forum(*args: str, db_url: str, var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forum", *args],
        env={**os.environ, "DATABASE_URL": db_url, "VAR_DIR": str(var_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_seed_demo_fills_an_empty_database_once(db_url: str, tmp_path: Path, db: Database) -> None:
    first = _forum("seed-demo", db_url=db_url, var_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "secretary_li" in first.stdout
    second = _forum("seed-demo", db_url=db_url, var_dir=tmp_path)
    assert second.returncode == 0 and "already has users" in second.stdout
    async with db.read_only() as session:
        users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        party = (
            await session.execute(select(func.count()).select_from(Membership).where(col(Membership.is_party_member)))
        ).scalar_one()  # type: ignore[arg-type]
        pending = (
            await session.execute(
                select(func.count()).select_from(Membership).where(col(Membership.status) == MembershipStatus.PENDING)
            )
        ).scalar_one()  # type: ignore[arg-type]
        admins = (await session.execute(select(func.count()).select_from(DistrictAdmin))).scalar_one()
        sale = (await session.execute(select(CharitySale))).scalar_one()
        items = (await session.execute(select(SaleItem).where(col(SaleItem.sale_id) == sale.id))).scalars().all()
    assert users == len(DEMO_ACCOUNTS) + len(DEMO_PENDING)
    assert party >= 4 and pending == len(DEMO_PENDING) and admins == 1
    assert sale.status == "open" and sale.thread_id is not None  # open for a week, with its discussion
    assert len(items) == 3 and sum(item.reserved for item in items) == 1


async def test_create_admin_makes_a_district_admin_and_explains_bad_input(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    ok = _forum(
        "create-admin",
        "district_boss",
        "--district",
        "baoshan",
        db_url=db_url,
        var_dir=tmp_path,
        LINLI_ADMIN_PASSWORD="a-long-password",
    )
    assert ok.returncode == 0, ok.stderr
    bad = _forum("create-admin", "x", db_url=db_url, var_dir=tmp_path, LINLI_ADMIN_PASSWORD="short")
    assert bad.returncode == 2
    assert "username" in bad.stderr and "Traceback" not in bad.stderr
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(DistrictAdmin))).scalar_one() == 1


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = _forum(
        "db",
        "upgrade",
        db_url=f"sqlite+aiosqlite:///{tmp_path}/x.db",
        var_dir=tmp_path,
        FORUM_ENV="production",
        SECRET_KEY="",
    )
    assert result.returncode == 2
    assert "SECRET_KEY must be set" in result.stderr
