"""The demo district: two communities, a secretary each, a district admin, a dozen residents, a thank-you
letter, an open charity sale, and problem reports (我身边的事) with their places, a site plan, the district's
response guide and a few reports in different states."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from forum.access import standing_in
from forum.actions import (
    accounts,
    communities,
    guide,
    letters,
    memberships,
    report_clock,
    report_settings,
    reports,
    reservations,
    sale_items,
    sales,
)
from forum.images import prepare_image
from forum.models import Community, CommunityKind, District, Report, Role, User, id_of
from forum.permissions import CommunityStanding
from forum.queries.reports import categories_of, places_of
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
    await _seed_guide(session, district)
    await _seed_report_places(session, places["yuepu-xincun"])
    await _seed_reports(session, places["yuepu-xincun"])
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


DEMO_PLACES = ("1号楼", "2号楼", "3号楼", "4号楼", "5号楼", "6号楼", "东门", "垃圾房", "停车场", "活动室")
# Where each place is drawn on the demo site plan (left, top, right, bottom on an 800 × 560 picture), and the
# label used when no font with Chinese characters is installed.
PLAN_BOXES = {
    "1号楼": ((60, 60, 200, 150), "1#"),
    "2号楼": ((250, 60, 390, 150), "2#"),
    "3号楼": ((440, 60, 580, 150), "3#"),
    "4号楼": ((60, 230, 200, 320), "4#"),
    "5号楼": ((250, 230, 390, 320), "5#"),
    "6号楼": ((440, 230, 580, 320), "6#"),
    "活动室": ((630, 60, 760, 150), "Club"),
    "垃圾房": ((630, 230, 760, 300), "Bins"),
    "停车场": ((60, 400, 580, 500), "Parking"),
    "东门": ((700, 420, 790, 500), "E gate"),
}
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


async def _person(session: AsyncSession, username: str, community: Community) -> tuple[User, CommunityStanding]:
    user = await accounts.find_user_by_username(session, username)
    assert user is not None  # noqa: S101 -- created above
    return user, await standing_in(session, user, community)


def draw_site_plan() -> bytes:
    """A simple site plan of the demo community, drawn here (no outside service): the buildings and landmarks
    as labelled boxes around the roads, as a PNG."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (800, 560), "#f4f1ea")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 180, 780, 210), fill="#d8d2c4")  # the main road, east to west
    draw.rectangle((600, 20, 620, 540), fill="#d8d2c4")  # the road to the east gate
    draw.rectangle((20, 350, 780, 380), fill="#d8d2c4")
    font_path = next((path for path in CJK_FONTS if Path(path).exists()), None)
    font = ImageFont.truetype(font_path, 22) if font_path else ImageFont.load_default(size=22)
    for name, (box, fallback) in PLAN_BOXES.items():
        fill = "#b7d7a8" if name == "停车场" else "#f9d9a8" if name in ("东门", "垃圾房", "活动室") else "#c9daf8"
        draw.rectangle(box, fill=fill, outline="#555555", width=2)
        label = name if font_path else fallback
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        x = (box[0] + box[2] - (right - left)) / 2
        y = (box[1] + box[3] - (bottom - top)) / 2 - top
        draw.text((x, y), label, fill="#222222", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _seed_report_places(session: AsyncSession, community: Community) -> None:
    """月浦新村's buildings and landmarks, and its site plan, as its secretary would set them."""
    secretary, standing = await _person(session, "secretary_li", community)
    for name in DEMO_PLACES:
        await report_settings.add_place(session, actor=secretary, community=community, standing=standing, name=name)
    await report_settings.set_site_plan(
        session, actor=secretary, community=community, standing=standing, image=prepare_image(draw_site_plan())
    )


# The district's response guide (社区干部问题应对指南): category, question, answer, department, rule, public.
DEMO_GUIDE = (
    (
        "环境卫生",
        "楼道里堆放杂物，谁来清理？",
        "楼道属于公共部位，先由居委会或物业上门提醒住户在 3 天内自行清理；逾期不清理的，"
        "物业可以统一清运，涉及消防安全的报消防部门处理。",
        "物业服务企业、居委会",
        "《上海市住宅物业管理规定》第六十七条：不得占用、堵塞公共部位和共用设施。",
        True,
    ),
    (
        "环境卫生",
        "垃圾房满了没人清运怎么办？",
        "湿垃圾每天至少清运一次。发现满溢请拍照上报，居委会当天联系物业和街镇环卫所加派清运。",
        "物业服务企业、街镇环卫所",
        "《上海市生活垃圾管理条例》第三十三条",
        True,
    ),
    (
        "停车",
        "有车堵住消防通道怎么办？",
        "消防通道严禁停车。物业先按车窗上的电话通知车主立即挪车；联系不上或拒不挪车的，"
        "拨打 110 或 119 由公安、消防依法处理。",
        "物业服务企业、派出所、消防救援站",
        "《中华人民共和国消防法》第二十八条、第六十条",
        True,
    ),
    (
        "停车",
        "外来车辆长期占用小区车位如何处理？",
        "先核实车辆登记情况。物业可依据业主大会通过的停车管理规约限制进入；僵尸车由居委会拍照记录，"
        "张贴告知 7 天后联系派出所协助移除。",
        "物业服务企业、业委会、派出所",
        "小区停车管理规约",
        False,
    ),
    (
        "设施维修",
        "楼道灯坏了多久能修好？",
        "公共照明属于物业日常维修范围，一般 24 小时内修复。超过时间未修的，请在这里再次上报，居委会会督促物业。",
        "物业服务企业",
        "物业服务合同约定的维修时限",
        True,
    ),
    (
        "设施维修",
        "电梯经常停运，维修费用谁出？",
        "日常维护保养由物业负责；大修、更新需要动用专项维修资金，由业委会组织业主表决。"
        "紧急情况下可以先行使用维修资金，事后公示。",
        "物业服务企业、业委会、区房管局",
        "《上海市住宅物业管理规定》第八十二条",
        False,
    ),
    (
        "高空抛物",
        "发现有人高空抛物怎么办？",
        "注意安全，先远离；有伤害或损失的立即报警 110。请拍下落物和位置上报，居委会和物业会调取监控、"
        "上门宣传，查实的由公安机关依法处理。",
        "派出所、物业服务企业",
        "《中华人民共和国民法典》第一千二百五十四条、《刑法》第二百九十一条之二",
        True,
    ),
    (
        "噪音",
        "楼上装修噪音太大，几点之后不能施工？",
        "住宅装修应在工作日 8:00–12:00、14:00–18:00 进行，节假日不得从事敲、凿、锯、钻等产生严重噪声的施工。"
        "违反的可以先请物业劝阻，仍不改正的报城管执法。",
        "物业服务企业、城管执法中队",
        "《上海市社会生活噪声污染防治办法》",
        True,
    ),
    (
        "邻里纠纷",
        "楼上漏水到我家，对方不配合怎么办？",
        "先请物业上门查明漏水原因。居委会可以组织双方调解，调解不成的可向街道人民调解委员会申请调解，或者向法院起诉。",
        "居委会、街道人民调解委员会",
        "《中华人民共和国人民调解法》",
        False,
    ),
)


async def _seed_guide(session: AsyncSession, district: District) -> None:
    admin = await accounts.find_user_by_username(session, "admin")
    assert admin is not None  # noqa: S101 -- created above
    for category, question, answer, department, rule, public in DEMO_GUIDE:
        await guide.add_entry(
            session,
            actor=admin,
            district_id=id_of(district),
            is_district_admin=True,
            category=category,
            question=question,
            answer=answer,
            department=department,
            rule=rule,
            public=public,
        )


async def _seed_report(
    session: AsyncSession,
    community: Community,
    username: str,
    category: str,
    place: str,
    *,
    made: datetime,
    title: str,
    description: str,
    location: str = "",
) -> Report:
    reporter, standing = await _person(session, username, community)
    ids = {row.name: id_of(row) for row in await categories_of(session, id_of(community))}
    places = {row.name: id_of(row) for row in await places_of(session, id_of(community))}
    return await reports.submit_report(
        session,
        actor=reporter,
        community=community,
        standing=standing,
        category_id=ids[category],
        place_id=places[place],
        now=made,
        title=title,
        description=description,
        location=location,
    )


async def _seed_reports(session: AsyncSession, community: Community) -> None:
    """A report answered in 12 minutes and being handled, one resolved and confirmed with a rating, one overdue
    (escalated to the district), and one just made, waiting for its answer."""
    secretary, standing = await _person(session, "secretary_li", community)
    now = utcnow()
    made = now - timedelta(days=2, hours=3)
    lamp = await _seed_report(
        session,
        community,
        "wang_fang",
        "设施维修",
        "2号楼",
        made=made,
        title="2号楼3单元楼道灯不亮",
        location="3单元",
        description="3单元二楼到五楼的楼道灯都不亮，晚上老人上下楼很危险。",
    )
    await reports.respond(
        session,
        actor=secretary,
        report=lamp,
        standing=standing,
        now=made + timedelta(minutes=12),
        body="收到，已通知物业电工今天下午来修。",
        status="in_progress",
    )
    made = now - timedelta(days=6)
    bins = await _seed_report(
        session,
        community,
        "chen_jing",
        "环境卫生",
        "垃圾房",
        made=made,
        title="垃圾房湿垃圾满溢",
        description="垃圾房的湿垃圾桶满了两天没人清运，味道很大，还招苍蝇。",
    )
    await reports.respond(
        session,
        actor=secretary,
        report=bins,
        standing=standing,
        now=made + timedelta(minutes=35),
        body="已联系环卫所，今天加派一次清运。",
    )
    await reports.respond(
        session,
        actor=secretary,
        report=bins,
        standing=standing,
        now=made + timedelta(hours=6),
        body="已清运完毕，物业会每天早晚各检查一次。",
        status="resolved",
    )
    reporter, reporter_standing = await _person(session, "chen_jing", community)
    await reports.confirm(
        session,
        actor=reporter,
        report=bins,
        standing=reporter_standing,
        rating=5,
        comment="处理得很快，谢谢李书记！",
        now=made + timedelta(days=1),
    )
    made = now - timedelta(hours=community.report_answer_hours + 3)
    parking = await _seed_report(
        session,
        community,
        "liu_yang",
        "停车",
        "停车场",
        made=made,
        title="消防通道被私家车堵住",
        location="停车场出口",
        description="一辆白色轿车连续三天停在消防通道上，电话打不通。",
    )
    while await report_clock.advance(session, id_of(parking), now=now):
        pass  # past its due time unanswered: escalated to the district, as the clock would have done
    await _seed_report(
        session,
        community,
        "li_na",
        "噪音",
        "5号楼",
        made=now - timedelta(minutes=40),
        title="5号楼晚上十点后还在装修",
        location="5号楼1单元",
        description="楼上晚上十点多还在电钻打孔，孩子没法睡觉。",
    )
