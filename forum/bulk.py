"""`forum seed-bulk`: a community filled with many threads, replies and likes (and with `--reports`, problem
reports: `seed_reports`), for measuring pages at scale.

100,000 threads and 1,000,000 replies must load in minutes, so this bypasses the domain actions (each reply is
a unit of work with a Markdown render and a jieba segmentation) and writes rows directly: COPY on PostgreSQL,
batched multi-row inserts on SQLite. What it writes is what the actions would have written:

- bodies are rendered by `forum.markup.render_markdown` and indexed with `forum.search.document`'s output, but
  for a pool of generated texts that posts reuse (segmenting a million bodies with jieba would take an hour);
- `post_count`, `last_posted_at`, `like_count` and post numbers agree with the rows, and sequences are moved
  past the ids used, so the forum carries on normally afterwards.

No events are recorded: nobody was watching. Run it on a database nobody else is writing to (PostgreSQL tables
are locked for the duration; SQLite has one writer anyway).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from tqdm import tqdm

from forum.actions import communities, report_settings
from forum.actions.reports import CONFIRM_DAYS, QUEUE_RANK, clock_steps
from forum.markup import render_markdown
from forum.models import (
    Board,
    BoardKind,
    ClockStep,
    Community,
    District,
    Like,
    Membership,
    MembershipStatus,
    Post,
    Report,
    ReportCategory,
    ReportEntry,
    ReportEntryKind,
    ReportMeToo,
    ReportPlace,
    ReportStatus,
    Role,
    Thread,
    User,
    id_of,
)
from forum.passwords import hash_password
from forum.search import document
from forum.seed import DEMO_PASSWORD
from forum.timeutil import utcnow

# Threads are written this many at a time (with their posts and likes): memory stays flat at any size.
CHUNK_THREADS = 2_000
SQLITE_BATCH = 2_000
# Distinct texts; posts reuse them. Big enough that pages and search results look varied.
OPENING_POOL = 3_000
REPLY_POOL = 6_000
# How threads share the replies: heavy-tailed like a real forum, a few long threads and many short ones.
_PARETO_ALPHA = 1.1
_PARETO_CAP = 1_000.0
BOARD_WEIGHTS = {
    BoardKind.TALK: 60,
    BoardKind.NOTICES: 5,
    BoardKind.GUIDES: 15,
    BoardKind.SALE: 10,
    BoardKind.SWAP: 10,
}
# Rare words for search benchmarks: each goes into about one text in RARE_EVERY.
RARE_WORDS_ZH = ["手风琴", "萤火虫", "紫砂壶", "蝈蝈笼", "太极扇", "碑帖", "榫卯", "皮影戏"]
RARE_WORDS_EN = ["ukulele", "sourdough", "origami", "theremin", "kombucha", "bonsai"]
RARE_EVERY = 400

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红梅建国建华志强海燕淑珍凤英丹"
_PLACES = ["小区东门", "3号楼", "7号楼楼下", "菜场门口", "社区服务中心", "老年活动室", "篮球场", "地下车库", "南门"]
_THINGS = ["快递柜", "电梯", "路灯", "垃圾分类点", "充电桩", "自行车棚", "健身器材", "门禁", "监控", "停车位"]
_ITEMS = ["婴儿车", "书架", "电饭煲", "儿童自行车", "旧沙发", "花盆", "钢琴", "小学课本", "冬衣", "微波炉"]
_TIMES = ["周六上午", "明天下午", "本周日", "今晚七点", "下周一", "月底"]
_ZH = [
    "{place}的{thing}又坏了，有人报修了吗？",
    "物业说{thing}{time}来修，大家再等等。",
    "{time}在{place}有义诊，老人可以去量血压。",
    "家里有一台{item}用不上了，有需要的邻居可以来拿。",
    "想换一个{item}，可以用{item2}交换。",
    "请大家注意，{place}最近晚上有人乱停车，堵住了消防通道。",
    "感谢{name}帮忙把{item}搬上楼！",
    "{thing}旁边的垃圾请及时清理，夏天味道很大。",
    "居委会{time}组织志愿者打扫{place}，欢迎报名。",
    "楼上漏水了，有没有靠谱的师傅推荐？",
    "小孩放学后在{place}踢球，大家开车慢一点。",
    "{place}新开了一家早餐店，豆浆油条不错。",
    "有谁知道{thing}怎么用吗？说明书看不懂。",
    "疫苗接种点改到{place}了，{time}开放。",
    "我家的猫走丢了，橘色的，最后在{place}看到，谢谢大家留意。",
    "团购的水果{time}到，在{place}自取。",
    "建议在{place}多装几个{thing}，晚上太暗了。",
    "{name}阿姨做的馄饨太好吃了，邻里节一定要再做。",
    "停水通知：{time}九点到下午三点，请提前储水。",
    "社区图书角新到了一批书，{time}可以去借。",
    "快递经常被放错楼，快递柜能不能加几个格子？",
    "电梯广告太吵了，能不能把声音关小一点？",
    "业委会换届选举{time}在{place}投票。",
    "谢谢大家，问题已经解决了。",
    "同意楼上的说法。",
    "我也遇到过，打物业电话就行。",
]
_EN = [
    "The {thing_en} near {place_en} is broken again; has anyone reported it?",
    "Free {item_en} to a good home, pick up at {place_en} this weekend.",
    "Parking by the east gate is blocking the fire lane at night.",
    "Volunteers wanted to tidy up the courtyard on Saturday morning.",
    "Thanks to everyone who helped carry the {item_en} upstairs!",
    "Does anyone know a good plumber? Water is leaking from the flat above.",
    "Parcel lockers are full every evening; could we get more of them?",
    "The new breakfast place by the south gate does great soy milk.",
    "Reminder: recycling day is moved to Monday this week.",
    "Lost cat, orange tabby, last seen near {place_en}. Please keep an eye out.",
]
_PLACES_EN = ["the east gate", "building 3", "the car park", "the community centre", "the basketball court"]
_THINGS_EN = ["parcel locker", "lift", "street light", "charging point", "bike shed", "door entry panel"]
_ITEMS_EN = ["pram", "bookshelf", "rice cooker", "kids' bike", "sofa", "piano", "microwave"]
_TITLES = [
    "{thing}坏了",
    "关于{place}停车的问题",
    "{time}活动通知",
    "出一台{item}",
    "求换{item}",
    "{place}的{thing}谁负责？",
    "推荐一个修{thing}的师傅",
    "寻猫启事",
    "社区团购接龙",
    "{time}停水通知",
    "Free {item_en}",
    "Broken {thing_en} at {place_en}",
    "邻里节准备工作",
    "{thing}使用说明",
]


@dataclass(frozen=True)
class Text:
    body: str
    body_html: str
    document: str  # what forum.search indexes for it


@dataclass(frozen=True)
class BulkResult:
    community_slug: str
    threads: int
    replies: int
    likes: int
    users: int
    seconds: float


def _person_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        place=rng.choice(_PLACES),
        thing=rng.choice(_THINGS),
        item=rng.choice(_ITEMS),
        item2=rng.choice(_ITEMS),
        time=rng.choice(_TIMES),
        name=_person_name(rng),
        place_en=rng.choice(_PLACES_EN),
        thing_en=rng.choice(_THINGS_EN),
        item_en=rng.choice(_ITEMS_EN),
    )


def generate_body(rng: random.Random) -> str:
    """A post as neighbours write them: mostly Chinese, some English, now and then a list or a rare word."""
    sentences = [_fill(rng.choice(_EN if rng.random() < 0.15 else _ZH), rng) for _ in range(rng.randint(1, 4))]
    if rng.randrange(RARE_EVERY) == 0:
        sentences.append(f"谁家有{rng.choice(RARE_WORDS_ZH)}可以借我看看？")
    if rng.randrange(RARE_EVERY) == 0:
        sentences.append(f"Anyone else into {rng.choice(RARE_WORDS_EN)}?")
    if rng.random() < 0.1:
        return sentences[0] + "\n\n" + "\n".join(f"- {sentence}" for sentence in sentences[1:] or sentences)
    return ("\n" if rng.random() < 0.3 else "").join(sentences)


def generate_title(rng: random.Random) -> str:
    return _fill(rng.choice(_TITLES), rng)[:120]


def _texts(bodies: Sequence[tuple[str | None, str]], label: str, show: bool) -> list[Text]:
    """Render and segment each text once: the slow part, done for the pool rather than for every post."""
    return [
        Text(body, render_markdown(body), document(title, body))
        for title, body in tqdm(bodies, desc=label, unit="text", disable=not show, leave=False)
    ]


def _reply_counts(rng: random.Random, threads: int, replies: int) -> list[int]:
    """`replies` shared among `threads`, heavy-tailed, summing exactly."""
    if threads == 0:
        return []
    weights = [min(rng.paretovariate(_PARETO_ALPHA), _PARETO_CAP) for _ in range(threads)]
    total = sum(weights)
    counts = [int(replies * weight / total) for weight in weights]
    # Rounding down lost less than one reply per thread: give the rest out one each.
    for index in rng.sample(range(threads), replies - sum(counts)):
        counts[index] += 1
    return counts


class _Writer:
    """Appends rows to tables: COPY on PostgreSQL, multi-row INSERTs on SQLite."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    async def _driver(self) -> Any:
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    async def write(self, table: Table | str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        name = table if isinstance(table, str) else table.name
        if self.postgres:
            driver = await self._driver()
            await driver.copy_records_to_table(name, records=rows, columns=list(columns))
            return
        for start in range(0, len(rows), SQLITE_BATCH):
            batch = [dict(zip(columns, row, strict=True)) for row in rows[start : start + SQLITE_BATCH]]
            if isinstance(table, str):
                placeholders = ", ".join(f":{column}" for column in columns)
                statement = text(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})")  # noqa: S608 -- fixed names
                await self.session.execute(statement, batch)
            else:
                await self.session.execute(insert(table), batch)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


async def _next_id(session: AsyncSession, model: Any) -> int:
    return int((await session.execute(select(func.coalesce(func.max(model.id), 0)))).scalar_one()) + 1


async def _community(session: AsyncSession, slug: str) -> Community:
    """The community to fill; created (in a 'bulk' district) when there is none with that slug."""
    community = (await session.execute(select(Community).where(col(Community.slug) == slug))).scalar_one_or_none()
    if community is not None:
        return community
    district = (await session.execute(select(District).where(col(District.slug) == "bulk"))).scalar_one_or_none()
    if district is None:
        district = await communities.create_district(session, name="测试区", slug="bulk")
    return await communities.create_community(session, district=district, name=f"{slug} 居民区", slug=slug)


async def seed_bulk(
    session: AsyncSession,
    *,
    community_slug: str,
    threads: int,
    replies: int,
    likes: int | None = None,
    users: int = 200,
    days: int = 730,
    seed: int = 1,
    show_progress: bool = False,
) -> BulkResult:
    """Add `threads` threads with `replies` replies in all (and about `likes` likes, by default half as many as
    replies) to the community's boards, written by `users` new verified members (password: the demo one)
    and its existing members. Flushes, never commits: the caller's unit of work does."""
    started = utcnow()
    rng = random.Random(seed)  # noqa: S311 -- made-up test data, reproducible by seed
    writer = _Writer(session)
    if writer.postgres:
        # Ids are handed out here, from the current maximum: no one else may insert meanwhile.
        await session.execute(
            text('LOCK TABLE "user", membership, thread, post, "like", post_search IN SHARE ROW EXCLUSIVE MODE')
        )
    community = await _community(session, community_slug)
    assert community.id is not None  # noqa: S101 -- a stored row
    boards = list(
        (await session.execute(select(Board).where(col(Board.community_id) == community.id, ~col(Board.is_archived))))
        .scalars()
        .all()
    )
    board_choices = [board for board in boards if board.kind in BOARD_WEIGHTS]
    if not board_choices:
        raise ValueError(f"community {community_slug} has no boards to fill")
    board_weights = [BOARD_WEIGHTS[BoardKind(board.kind)] for board in board_choices]

    # People: new verified members, the first of them a secretary (notices need one), plus existing members.
    now = utcnow()
    password_hash = await hash_password(DEMO_PASSWORD)
    first_user = await _next_id(session, User)
    first_membership = await _next_id(session, Membership)
    user_rows = []
    membership_rows = []
    for n in range(users):
        user_id = first_user + n
        user_rows.append((user_id, f"bulk_{user_id}", _person_name(rng), password_hash, None, True, now))
        membership_rows.append(
            (
                first_membership + n,
                user_id,
                community.id,
                MembershipStatus.VERIFIED.value,
                (Role.SECRETARY if n == 0 else Role.RESIDENT).value,
                str(rng.randint(1, 40)),
                str(rng.randint(1, 4)),
                str(rng.randint(101, 1804)),
                rng.random() < 0.12,
                now,
                now,
                None,
            )
        )
    await writer.write(
        _table(User),
        ["id", "username", "display_name", "password_hash", "locale", "is_active", "created_at"],
        user_rows,
    )
    await writer.write(
        _table(Membership),
        [
            "id",
            "user_id",
            "community_id",
            "status",
            "role",
            "building",
            "unit",
            "room",
            "is_party_member",
            "requested_at",
            "decided_at",
            "decided_by_id",
        ],
        membership_rows,
    )
    members = list(
        (
            await session.execute(
                select(col(Membership.user_id), col(Membership.role)).where(
                    col(Membership.community_id) == community.id, col(Membership.status) == MembershipStatus.VERIFIED
                )
            )
        ).all()
    )
    authors = [user_id for user_id, _role in members]
    secretaries = [user_id for user_id, role in members if role == Role.SECRETARY]
    if not authors:
        raise ValueError("seed-bulk needs at least one user (--users)")

    # Texts: a pool of opening posts (with titles) and of replies, rendered and segmented once.
    opening_sources = [(generate_title(rng), generate_body(rng)) for _ in range(min(threads, OPENING_POOL))]
    reply_sources: list[tuple[str | None, str]] = [(None, generate_body(rng)) for _ in range(min(replies, REPLY_POOL))]
    titles = [title for title, _body in opening_sources]
    openings = _texts(opening_sources, "texts of opening posts", show_progress)
    reply_texts = _texts(reply_sources, "texts of replies", show_progress)
    counts = _reply_counts(rng, threads, replies)
    first_thread = await _next_id(session, Thread)
    next_post = await _next_id(session, Post)
    search_docs = _SearchDocuments(writer, [item.document for item in openings + reply_texts])
    await search_docs.prepare(next_post)
    next_like = await _next_id(session, Like)
    span = timedelta(days=days).total_seconds()
    starts = sorted(rng.uniform(0, span) for _ in range(threads))
    origin = now - timedelta(days=days)
    written_likes = 0
    likes_per_post = (replies // 2 if likes is None else likes) / max(1, threads + replies)

    bar = tqdm(total=threads + replies, desc="posts", unit="post", disable=not show_progress, smoothing=0.05)
    for chunk_start in range(0, threads, CHUNK_THREADS):
        thread_rows: list[tuple[Any, ...]] = []
        post_rows: list[tuple[Any, ...]] = []
        like_rows: list[tuple[Any, ...]] = []
        doc_rows: list[tuple[int, int]] = []
        for index in range(chunk_start, min(threads, chunk_start + CHUNK_THREADS)):
            thread_id = first_thread + index
            board = rng.choices(board_choices, board_weights)[0]
            is_notice = board.kind == BoardKind.NOTICES
            author = rng.choice(secretaries) if is_notice and secretaries else rng.choice(authors)
            created = origin + timedelta(seconds=starts[index])
            reply_times = sorted(
                created
                + timedelta(seconds=rng.uniform(1, min(30 * 86400.0, max(2.0, (now - created).total_seconds()))))
                for _ in range(counts[index])
            )
            last_posted = reply_times[-1] if reply_times else created
            pool_index = rng.randrange(len(openings))
            thread_rows.append(
                (
                    thread_id,
                    board.id,
                    community.id,
                    author,
                    titles[pool_index],
                    1 + counts[index],
                    created,
                    last_posted,
                    False,
                )
            )
            posts = [(author, created, openings[pool_index], pool_index)]
            for when in reply_times:
                reply_index = rng.randrange(len(reply_texts))
                posts.append((rng.choice(authors), when, reply_texts[reply_index], len(openings) + reply_index))
            for number, (post_author, when, body, doc_index) in enumerate(posts, start=1):
                post_id = next_post
                next_post += 1
                likers = _likers(rng, authors, likes_per_post)
                post_rows.append(
                    (post_id, thread_id, post_author, number, body.body, body.body_html, len(likers), when, None, None)
                )
                doc_rows.append((post_id, doc_index))
                for liker in likers:
                    like_rows.append((next_like, post_id, liker, when + timedelta(seconds=rng.uniform(1, 86400))))
                    next_like += 1
                written_likes += len(likers)
        await writer.write(_table(Thread), _THREAD_COLUMNS, thread_rows)
        await writer.write(_table(Post), _POST_COLUMNS, post_rows)
        await writer.write(_table(Like), ["id", "post_id", "user_id", "created_at"], like_rows)
        await search_docs.write(doc_rows)
        bar.update(len(post_rows))
    bar.close()
    if writer.postgres:
        for table in ('"user"', "membership", "thread", "post", '"like"'):
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608 -- fixed names
                )
            )
        await session.execute(text("ANALYZE"))
    return BulkResult(
        community_slug=community_slug,
        threads=threads,
        replies=replies,
        likes=written_likes,
        users=users,
        seconds=(utcnow() - started).total_seconds(),
    )


_THREAD_COLUMNS = [
    "id",
    "board_id",
    "community_id",
    "author_id",
    "title",
    "post_count",
    "created_at",
    "last_posted_at",
    "is_deleted",
]
_POST_COLUMNS = [
    "id",
    "thread_id",
    "author_id",
    "number",
    "body",
    "body_html",
    "like_count",
    "created_at",
    "edited_at",
    "deleted_at",
]


def _likers(rng: random.Random, people: list[int], mean: float) -> list[int]:
    """Distinct people who like a post: most posts have none or a few, some many."""
    if mean <= 0:
        return []
    # Randomised rounding keeps the mean of the exponential draw.
    wanted = min(len(people), int(rng.expovariate(1 / mean) + rng.random()))
    return rng.sample(people, wanted) if wanted else []


class _SearchDocuments:
    """Search index rows for the posts written: the pooled documents, as `forum.search.index_post` stores them.

    PostgreSQL: each pooled document becomes a tsvector once (`to_tsvector('simple', doc)`, as index_post does),
    posts point at their pool entry in a temporary table, and one INSERT … SELECT per chunk fills post_search.
    SQLite: the FTS5 rows are written directly."""

    def __init__(self, writer: _Writer, documents: list[str]) -> None:
        self.writer = writer
        self.documents = documents

    async def prepare(self, first_post_id: int) -> None:
        if not self.writer.postgres:
            # FTS5 rows have no foreign key: a hard-deleted post may have left one with an id about to be reused
            # (index_post deletes before it inserts for the same reason).
            await self.writer.session.execute(
                text("DELETE FROM post_fts WHERE rowid >= :first"), {"first": first_post_id}
            )
            return
        session = self.writer.session
        await session.execute(
            text("CREATE TEMPORARY TABLE bulk_document (id integer PRIMARY KEY, doc text NOT NULL) ON COMMIT DROP")
        )
        await session.execute(
            text("CREATE TEMPORARY TABLE bulk_post_document (post_id integer, document_id integer) ON COMMIT DROP")
        )
        await self.writer.write("bulk_document", ["id", "doc"], list(enumerate(self.documents)))
        await session.execute(
            text(
                "CREATE TEMPORARY TABLE bulk_vector ON COMMIT DROP AS "
                "SELECT id, to_tsvector('simple', doc) AS document FROM bulk_document"
            )
        )
        await session.execute(text("CREATE UNIQUE INDEX ON bulk_vector (id)"))

    async def write(self, rows: list[tuple[int, int]]) -> None:
        if not self.writer.postgres:
            await self.writer.write(
                "post_fts", ["rowid", "document"], [(post_id, self.documents[index]) for post_id, index in rows]
            )
            return
        session = self.writer.session
        await self.writer.write("bulk_post_document", ["post_id", "document_id"], rows)
        await session.execute(
            text(
                "INSERT INTO post_search (post_id, document) SELECT m.post_id, v.document "
                "FROM bulk_post_document m JOIN bulk_vector v ON v.id = m.document_id"
            )
        )
        await session.execute(text("TRUNCATE bulk_post_document"))


# --- problem reports (我身边的事) ---------------------------------------------------------------------------------

REPORT_CHUNK = 5_000
REPORT_TEXT_POOL = 400
# Buildings and landmarks given to a community that has none yet.
REPORT_PLACES = [f"{n}号楼" for n in range(1, 25)] + [
    "东门",
    "南门",
    "垃圾房",
    "地下车库",
    "健身广场",
    "快递柜",
    "自行车棚",
    "社区服务中心",
]
_REPORT_SUBJECTS = {
    "环境卫生": ["垃圾桶满了没人清", "楼道里堆满杂物", "下水道反味", "宠物粪便没人清理", "垃圾分类点污水横流"],
    "绿化": ["树枝挡住了窗户", "草坪被踩秃了", "绿化带里有枯树", "树上有马蜂窝"],
    "停车": ["消防通道被车堵住", "非机动车乱停堵门", "外来车辆占用车位", "地库出口有车乱停"],
    "噪音": ["晚上十点后还在装修", "广场舞音响太大", "空调外机噪音很大", "凌晨有人在楼下喧哗"],
    "设施维修": ["路灯坏了，晚上很黑", "电梯经常停运", "门禁刷不开", "楼道灯不亮", "水管漏水", "健身器材松动"],
    "高空抛物": ["楼上扔下烟头", "有人从高处扔垃圾袋", "窗台花盆摇摇欲坠"],
    "安全隐患": ["电动车在楼道充电", "井盖松动", "围墙有裂缝", "消防栓被挡住"],
    "邻里纠纷": ["楼上漏水到我家", "邻居占用公共走廊", "狗叫扰民"],
    "咨询建议": ["能不能多装几个充电桩", "建议增加快递柜", "老人活动室开放时间能否延长"],
    "其他": ["小区门口有流浪猫受伤", "有陌生人挨家推销", "信箱被撬"],
}
_REPORT_DETAILS = [
    "已经好几天了，麻烦尽快处理。",
    "晚上老人小孩出入很不方便，希望早点解决。",
    "之前打过物业电话，一直没人来。",
    "照片是今天早上拍的。",
    "不止我一家，整个单元都受影响。",
    "请居委会帮忙协调一下，谢谢！",
    "下雨天更严重，存在安全隐患。",
]
_ANSWERS = [
    "您好，已收到，今天下午安排物业师傅上门查看。",
    "已联系物业公司，明天上午处理，请留意。",
    "感谢反映，已转交城管部门，我们会持续跟进。",
    "已现场查看，问题属实，正在协调维修。",
    "您好，这个问题需要业委会讨论，我们本周内给您答复。",
]
_PROGRESS = ["师傅已到现场，正在维修。", "已下单配件，预计三天内到货。", "已与相关住户沟通。"]
_RESOLVED = ["已修好，请您确认。", "已清理完毕。", "已协调解决，如有问题请随时反映。"]
_DECLINES = ["这属于市政管理范围，请拨打12345热线。", "此事需业主自行协商，可申请人民调解。"]
_REFERRED_TO = ["物业公司", "城管中队", "街道办事处", "房管办", "供电公司", "自来水公司", "派出所"]
_RATING_COMMENTS = ["处理很快，谢谢！", "还可以", "", "师傅很负责", "希望以后更快一点"]


@dataclass(frozen=True)
class ReportBulkResult:
    community_slug: str
    reports: int
    entries: int
    me_too: int
    by_status: dict[str, int]
    seconds: float


@dataclass
class _Lifecycle:
    """One report's made-up history, cut at `now`: what `forum.actions.reports` and the clock would have left."""

    status: str = ReportStatus.SUBMITTED
    answered_at: datetime | None = None
    answered_by_id: int | None = None
    escalated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    referred_to: str = ""
    rating: int | None = None
    rating_comment: str = ""
    last_activity_at: datetime | None = None


@functools.lru_cache(maxsize=256)
def _rendered(body: str) -> str:
    return render_markdown(body) if body else ""


def _history(
    rng: random.Random,
    *,
    created: datetime,
    due: datetime,
    now: datetime,
    reporter_id: int,
    secretaries: list[int],
    texts: dict[str, Text],
) -> tuple[_Lifecycle, list[tuple[Any, ...]], tuple[str, datetime | None]]:
    """A report's fate (answered in half an hour mostly, sometimes late or never; handled, referred or declined;
    resolved; confirmed or closed by the clock), its timeline entries up to `now` (without id and report id)
    and its pending clock step (or none)."""
    state = _Lifecycle(last_activity_at=created)
    events: list[tuple[datetime, str, int | None, str, str, str]] = []  # when, kind, actor, status, body, referred
    events.append((created, ReportEntryKind.SUBMITTED, reporter_id, "", "", ""))
    hours = (due - created).total_seconds() / 3600
    luck = rng.random()
    answered: datetime | None
    if luck < 0.004:
        answered = None  # never answered: overdue for good
    elif luck < 0.06:
        answered = due + timedelta(hours=rng.uniform(0.5, 2 * hours))  # late, after the escalation
    else:
        minutes = min(rng.lognormvariate(math.log(35), 1.2), hours * 60 * 0.95)
        answered = created + timedelta(minutes=max(1.0, minutes))
    for step, at in clock_steps(due):
        if at > created and (answered is None or at < answered):
            step_kind = ReportEntryKind.ESCALATED if step == ClockStep.ESCALATE else ReportEntryKind.REMINDED
            body = "" if step == ClockStep.ESCALATE else ("24" if step == ClockStep.REMIND_24 else "4")
            events.append((at, step_kind, None, "", body, ""))
    secretary = rng.choice(secretaries)
    if answered is not None:
        if rng.random() < 0.05:
            events.append((answered, "answer:declined", secretary, ReportStatus.DECLINED, "decline", ""))
        else:
            events.append((answered, ReportEntryKind.ANSWER, secretary, ReportStatus.ANSWERED, "answer", ""))
            moved = answered + timedelta(hours=rng.uniform(0.5, 48))
            if rng.random() < 0.15:
                to = rng.choice(_REFERRED_TO)
                events.append((moved, ReportEntryKind.STATUS, secretary, ReportStatus.REFERRED, "progress", to))
            else:
                events.append((moved, ReportEntryKind.STATUS, secretary, ReportStatus.IN_PROGRESS, "progress", ""))
            if rng.random() < 0.985:  # the rest stay in hand for good
                resolved = moved + timedelta(days=rng.uniform(0.2, 20))
                events.append((resolved, ReportEntryKind.STATUS, secretary, ReportStatus.RESOLVED, "resolved", ""))
                if rng.random() < 0.45:
                    confirmed = resolved + timedelta(hours=rng.uniform(1, 6 * 24))
                    events.append((confirmed, ReportEntryKind.CONFIRMED, reporter_id, ReportStatus.CLOSED, "", ""))
                    if rng.random() < 0.8:
                        events.append((confirmed, ReportEntryKind.RATED, reporter_id, "", "rating", ""))
                else:
                    closing = resolved + timedelta(days=CONFIRM_DAYS)
                    events.append((closing, ReportEntryKind.AUTO_CLOSED, None, ReportStatus.CLOSED, "7", ""))
    events.sort(key=lambda event: event[0])
    entries: list[tuple[Any, ...]] = []
    for when, kind, actor, status, body, referred in events:
        if when > now:
            break
        text_body = body
        if body in texts:
            text_body = texts[body].body
        if kind == "answer:declined":
            kind = ReportEntryKind.STATUS
        if body == "rating":
            state.rating = rng.choices((5, 4, 3, 2, 1), (55, 25, 10, 5, 5))[0]
            state.rating_comment = rng.choice(_RATING_COMMENTS)
            text_body = f"{state.rating}/5" + (f" {state.rating_comment}" if state.rating_comment else "")
        html = texts[body].body_html if body in texts else _rendered(text_body)
        if kind == ReportEntryKind.ESCALATED:
            state.escalated_at = when
        if status:
            if state.answered_at is None and actor is not None and kind in (ReportEntryKind.ANSWER, "status"):
                state.answered_at, state.answered_by_id = when, actor
            state.status = status
            if status == ReportStatus.REFERRED:
                state.referred_to = referred
            if status == ReportStatus.RESOLVED:
                state.resolved_at = when
            if status in (ReportStatus.CLOSED, ReportStatus.DECLINED):
                state.closed_at = when
        if kind not in (ReportEntryKind.REMINDED, ReportEntryKind.ESCALATED):
            state.last_activity_at = when
        entries.append((actor, str(kind), str(status), text_body, html, referred, when))
    clock: tuple[str, datetime | None] = ("", None)
    if state.answered_at is None and state.escalated_at is None and state.status == ReportStatus.SUBMITTED:
        clock = next((str(step), at) for step, at in clock_steps(due) if at > now and at > created)
    elif state.status == ReportStatus.RESOLVED and state.resolved_at is not None:
        clock = (str(ClockStep.CLOSE), state.resolved_at + timedelta(days=CONFIRM_DAYS))
    return state, entries, clock


def _report_texts(rng: random.Random) -> tuple[list[tuple[str, str, str]], dict[str, list[Text]]]:
    """(category, title, description) to reuse, and the secretaries' texts by use, rendered once."""
    reports = []
    for _ in range(REPORT_TEXT_POOL):
        category = rng.choice(list(_REPORT_SUBJECTS))
        title = rng.choice(_REPORT_SUBJECTS[category])
        details = rng.sample(_REPORT_DETAILS, rng.randint(1, 3))
        reports.append((category, title, title + "。" + "".join(details)))
    answers = {
        "answer": _ANSWERS,
        "progress": _PROGRESS,
        "resolved": _RESOLVED,
        "decline": _DECLINES,
    }
    return reports, {use: [Text(body, render_markdown(body), "") for body in bodies] for use, bodies in answers.items()}


async def seed_reports(
    session: AsyncSession,
    *,
    community_slug: str,
    reports: int,
    days: int = 365,
    seed: int = 1,
    now: datetime | None = None,
    show_progress: bool = False,
) -> ReportBulkResult:
    """Add `reports` problem reports made over the last `days` days by the community's verified members, each
    with the history `forum.actions.reports` and its clock would have written by `now`: mostly closed (confirmed
    and rated, or closed by the clock), some declined, the recent ones still open (submitted on the clock,
    answered, in progress, referred, resolved and waiting), a few overdue; timeline entries, "me too"s and
    counters to match; queue_rank from QUEUE_RANK and clock_at/clock_step from the same rules. No photos, comments,
    events or notifications. The community gets the default categories and some buildings and landmarks if it
    has none. Flushes, never commits."""
    started = utcnow()
    now = now or started
    rng = random.Random(seed * 7919 + 16)  # noqa: S311 -- made-up test data, reproducible by seed
    writer = _Writer(session)
    if writer.postgres:
        await session.execute(text("LOCK TABLE report, report_entry, report_me_too IN SHARE ROW EXCLUSIVE MODE"))
    community = await _community(session, community_slug)
    community_id = id_of(community)
    categories = {
        row.name: id_of(row)
        for row in (
            await session.execute(
                select(ReportCategory).where(
                    col(ReportCategory.community_id) == community_id, ~col(ReportCategory.is_archived)
                )
            )
        ).scalars()
    }
    if not categories:
        defaults = await report_settings.create_default_categories(session, community=community)
        categories = {row.name: id_of(row) for row in defaults}
    places = list(
        (
            await session.execute(
                select(col(ReportPlace.id)).where(
                    col(ReportPlace.community_id) == community_id, ~col(ReportPlace.is_archived)
                )
            )
        ).scalars()
    )
    if not places:
        rows = [
            ReportPlace(community_id=community_id, name=name, position=position)
            for position, name in enumerate(REPORT_PLACES)
        ]
        session.add_all(rows)
        await session.flush()
        places = [id_of(row) for row in rows]
    members = (
        await session.execute(
            select(col(Membership.user_id), col(Membership.role)).where(
                col(Membership.community_id) == community_id, col(Membership.status) == MembershipStatus.VERIFIED
            )
        )
    ).all()
    residents = [user_id for user_id, _role in members]
    secretaries = [user_id for user_id, role in members if role == Role.SECRETARY] or residents[:1]
    if not residents:
        raise ValueError(f"community {community_slug} has no verified members to report problems")
    pool, answers = _report_texts(rng)
    hours = community.report_answer_hours
    span = timedelta(days=days).total_seconds()
    origin = now - timedelta(days=days)
    starts = sorted(rng.uniform(0, span) for _ in range(reports))
    next_report = await _next_id(session, Report)
    next_entry = await _next_id(session, ReportEntry)
    written_entries = written_me_too = 0
    by_status: dict[str, int] = {}
    bar = tqdm(total=reports, desc="reports", unit="report", disable=not show_progress, smoothing=0.05)
    for chunk_start in range(0, reports, REPORT_CHUNK):
        report_rows: list[tuple[Any, ...]] = []
        entry_rows: list[tuple[Any, ...]] = []
        me_too_rows: list[tuple[Any, ...]] = []
        for index in range(chunk_start, min(reports, chunk_start + REPORT_CHUNK)):
            report_id = next_report + index
            created = origin + timedelta(seconds=starts[index])
            due = created + timedelta(hours=hours)
            reporter = rng.choice(residents)
            texts = {use: rng.choice(choices) for use, choices in answers.items()}
            state, entries, (clock_step, clock_at) = _history(
                rng, created=created, due=due, now=now, reporter_id=reporter, secretaries=secretaries, texts=texts
            )
            category, title, description = rng.choice(pool)
            if rng.random() < 0.85:
                place_id, location = rng.choice(places), rng.choice(("", "", f"{rng.randint(1, 4)}单元"))
            else:
                place_id, location = None, rng.choice(_PLACES)
            others = [person for person in rng.sample(residents, min(len(residents), 6)) if person != reporter]
            me_too = others[: rng.choice((0,) * 17 + (1, 2, 5))]
            for person in me_too:
                me_too_rows.append((report_id, person, created + timedelta(minutes=rng.uniform(5, 600))))
            answer_minutes = (
                max(0, math.ceil((state.answered_at - created).total_seconds() / 60)) if state.answered_at else None
            )
            report_rows.append(
                (
                    report_id,
                    community_id,
                    reporter,
                    categories.get(category) or rng.choice(list(categories.values())),
                    place_id,
                    location,
                    title,
                    description,
                    rng.random() < 0.05,
                    rng.random() < 0.1,
                    str(state.status),
                    QUEUE_RANK[ReportStatus(state.status)],
                    created,
                    due,
                    state.answered_at,
                    state.answered_by_id,
                    answer_minutes,
                    state.escalated_at,
                    clock_at,
                    clock_step,
                    state.referred_to,
                    state.resolved_at,
                    state.closed_at,
                    state.rating,
                    state.rating_comment,
                    len(me_too),
                    0,
                    state.last_activity_at,
                    "",
                )
            )
            for actor, kind, status, body, html, referred, when in entries:
                entry_rows.append((next_entry, report_id, actor, kind, status, body, html, referred, when))
                next_entry += 1
            by_status[str(state.status)] = by_status.get(str(state.status), 0) + 1
        await writer.write(_table(Report), _REPORT_COLUMNS, report_rows)
        await writer.write(_table(ReportEntry), _ENTRY_COLUMNS, entry_rows)
        await writer.write(_table(ReportMeToo), ["report_id", "user_id", "created_at"], me_too_rows)
        written_entries += len(entry_rows)
        written_me_too += len(me_too_rows)
        bar.update(len(report_rows))
    bar.close()
    if writer.postgres:
        for table in ("report", "report_entry"):
            await session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608 -- fixed names
                )
            )
        await session.execute(text("ANALYZE report"))
        await session.execute(text("ANALYZE report_entry"))
        await session.execute(text("ANALYZE report_me_too"))
    return ReportBulkResult(
        community_slug=community_slug,
        reports=reports,
        entries=written_entries,
        me_too=written_me_too,
        by_status=dict(sorted(by_status.items())),
        seconds=(utcnow() - started).total_seconds(),
    )


_REPORT_COLUMNS = [
    "id",
    "community_id",
    "reporter_id",
    "category_id",
    "place_id",
    "location",
    "title",
    "description",
    "is_private",
    "is_anonymous",
    "status",
    "queue_rank",
    "created_at",
    "due_at",
    "answered_at",
    "answered_by_id",
    "answer_minutes",
    "escalated_at",
    "clock_at",
    "clock_step",
    "referred_to",
    "resolved_at",
    "closed_at",
    "rating",
    "rating_comment",
    "me_too_count",
    "comment_count",
    "last_activity_at",
    "hidden_reason",
]
_ENTRY_COLUMNS = ["id", "report_id", "actor_id", "kind", "status", "body", "body_html", "referred_to", "created_at"]
