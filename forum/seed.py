"""The demo district: two communities, a secretary each, a district admin, a dozen residents, a thank-you
letter and an open charity sale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from forum.access import standing_in
from forum.actions import accounts, communities, letters, memberships, reservations, sale_items, sales
from forum.models import Community, CommunityKind, Role
from forum.timeutil import utcnow

DEMO_PASSWORD = "linli-demo-2026"  # noqa: S105 -- the published password of the demo accounts


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    community: str | None  # slug
    role: str
    is_party_member: bool = False
    building: str = ""
    room: str = ""


DEMO_ACCOUNTS = [
    DemoAccount("admin", "区管理员 周敏", None, "district_admin"),
    DemoAccount("secretary_li", "李书记", "yuepu-xincun", Role.SECRETARY, True, "1", "101"),
    DemoAccount("secretary_wang", "王书记", "luojing-cun", Role.SECRETARY, True, "3", "201"),
    DemoAccount("zhang_wei", "张伟", "yuepu-xincun", Role.RESIDENT, True, "2", "302"),
    DemoAccount("wang_fang", "王芳", "yuepu-xincun", Role.RESIDENT, False, "2", "501"),
    DemoAccount("li_na", "李娜", "yuepu-xincun", Role.RESIDENT, False, "5", "1203"),
    DemoAccount("liu_yang", "刘洋", "yuepu-xincun", Role.RESIDENT, True, "7", "604"),
    DemoAccount("chen_jing", "陈静", "yuepu-xincun", Role.RESIDENT, False, "8", "201"),
    DemoAccount("yang_min", "杨敏", "yuepu-xincun", Role.RESIDENT, False, "9", "402"),
    DemoAccount("zhao_lei", "赵磊", "luojing-cun", Role.RESIDENT, True, "12", "1"),
    DemoAccount("huang_xiuying", "黄秀英", "luojing-cun", Role.RESIDENT, False, "15", "2"),
    DemoAccount("zhou_jun", "周军", "luojing-cun", Role.RESIDENT, False, "21", "3"),
    DemoAccount("wu_xia", "吴霞", "luojing-cun", Role.RESIDENT, True, "8", "6"),
    DemoAccount("xu_qiang", "徐强", "luojing-cun", Role.RESIDENT, False, "4", "9"),
]
# Residents who scanned the poster but are not verified yet, so a secretary has something to do in the demo.
DEMO_PENDING = [DemoAccount("sun_li", "孙丽", "yuepu-xincun", Role.RESIDENT, False, "6", "703")]


async def seed_demo(session: AsyncSession) -> bool:
    """Create the demo district unless the database already has users. Returns whether it seeded."""
    if await accounts.count_users(session) > 0:
        return False
    district = await communities.create_district(session, name="宝山区", slug="baoshan")
    places = {
        "yuepu-xincun": await communities.create_community(
            session,
            district=district,
            name="月浦新村居民区",
            slug="yuepu-xincun",
            kind=CommunityKind.RESIDENTIAL,
            address="月浦镇",
        ),
        "luojing-cun": await communities.create_community(
            session,
            district=district,
            name="罗泾村",
            slug="luojing-cun",
            kind=CommunityKind.VILLAGE,
            address="罗泾镇",
        ),
    }
    for account in DEMO_ACCOUNTS + DEMO_PENDING:
        user = await accounts.register_user(
            session, username=account.username, password=DEMO_PASSWORD, display_name=account.display_name
        )
        if account.role == "district_admin":
            await communities.grant_district_admin(session, user=user, district=district)
            continue
        assert account.community is not None  # noqa: S101 -- every other demo account lives somewhere
        community = places[account.community]
        if account in DEMO_PENDING:
            await memberships.request_to_join(
                session,
                user=user,
                community=community,
                standing=await standing_in(session, user, community),
                building=account.building,
                unit="",
                room=account.room,
            )
            continue
        await memberships.add_verified_member(
            session,
            user=user,
            community=community,
            role=Role(account.role),
            is_party_member=account.is_party_member,
            building=account.building,
            room=account.room,
        )
    await _seed_letter(session, places["yuepu-xincun"])
    await _seed_sale(session, places["yuepu-xincun"])
    return True


async def _seed_letter(session: AsyncSession, community: Community) -> None:
    """One thank-you letter on 月浦新村's wall, to its two party-member volunteers, so the wall is not empty."""
    writer = await accounts.find_user_by_username(session, "wang_fang")
    assert writer is not None  # noqa: S101 -- created above
    await letters.write_letter(
        session,
        actor=writer,
        community=community,
        standing=await standing_in(session, writer, community),
        usernames="zhang_wei liu_yang",
        group_name="2号楼和7号楼的党员志愿者",
        title="感谢志愿者帮我们修好楼道灯",
        body="楼道灯坏了一个星期，张伟和刘洋周末自己买了灯泡装好了。老人晚上下楼再也不怕了，谢谢你们！",
    )


async def _seed_sale(session: AsyncSession, community: Community) -> None:
    """An open charity sale in 月浦新村 with three donated items, one of them reserved, so the sale pages show
    something to reserve and something on the organiser's desk."""
    people = {}
    for username in ("secretary_li", "wang_fang", "li_na", "chen_jing"):
        user = await accounts.find_user_by_username(session, username)
        assert user is not None  # noqa: S101 -- created above
        people[username] = (user, await standing_in(session, user, community))
    organiser, organiser_standing = people["secretary_li"]
    now = utcnow()
    sale = await sales.create_sale(
        session,
        actor=organiser,
        community=community,
        standing=organiser_standing,
        title="重阳节爱心义卖",
        cause="为社区独居老人购买冬衣和助行器",
        pickup="居委会门口，本周六上午 9:00–11:00",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=7),
        target="2000",
        hold_hours=48,
    )
    items = []
    for donor, title, description, price, quantity in (
        ("wang_fang", "手织羊毛围巾", "全新，自己织的，灰色和红色各两条。", "35", 4),
        ("chen_jing", "儿童绘本一套（10本）", "九成新，适合3到6岁。", "40", 1),
        ("li_na", "多肉盆栽", "自家阳台养的，带陶盆。", "8", 6),
    ):
        user, standing = people[donor]
        items.append(
            await sale_items.donate_item(
                session,
                actor=user,
                sale=sale,
                standing=standing,
                title=title,
                description=description,
                price=price,
                quantity=quantity,
            )
        )
    buyer, buyer_standing = people["li_na"]
    await reservations.reserve(session, actor=buyer, sale=sale, item=items[0], standing=buyer_standing, quantity=1)
