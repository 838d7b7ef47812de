"""Private messages through the pages, as a browser without JavaScript uses them. Both databases."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.models import (
    AuditEntry,
    ConversationMember,
    Event,
    Membership,
    MembershipStatus,
    Message,
    Notification,
    Role,
    User,
)
from tests.factories import make_community, make_district_admin, make_member, make_user
from tests.helpers import csrf_token, member_client, post_form, signed_in, text

_CLIENT_ID = re.compile(r'name="client_id" value="([^"]+)"')


async def _send(client: Client, conversation: str, body: str, *, client_id: str | None = None) -> object:
    page = await text(await client.get(conversation))
    match = _CLIENT_ID.search(page)
    assert match, page
    return await post_form(
        client, conversation, {"body": body, "client_id": client_id or match.group(1)}, token_from=conversation
    )


async def _stored(db: Database) -> int:
    async with db.read_only() as session:
        return int((await session.execute(select(func.count()).select_from(Message))).scalar_one())


async def test_a_resident_writes_to_the_secretary_who_reads_and_answers(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "zhangwei")
    secretary = await member_client(app, db, community, "secretary_li", role=Role.SECRETARY)

    assert "/messages" in await text(await resident.get(f"/c/{community.slug}"))
    inbox = await text(await resident.get(f"/c/{community.slug}/messages"))
    assert "Secretary_Li" in inbox and f"/c/{community.slug}/messages/with/secretary_li" in inbox
    started = await post_form(
        resident, f"/c/{community.slug}/messages/with/secretary_li", token_from=f"/c/{community.slug}/messages"
    )
    assert started.status_code == 302  # type: ignore[attr-defined]
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    assert re.fullmatch(r"/messages/\d+", conversation)
    sent = await _send(resident, conversation, "5号楼的路灯坏了三天了")
    assert sent.status_code == 302  # type: ignore[attr-defined]

    secretary_inbox = await text(await secretary.get(f"/c/{community.slug}/messages"))
    assert "Zhangwei" in secretary_inbox and "1 条未读" in secretary_inbox
    page = await text(await secretary.get(conversation))
    assert "5号楼的路灯坏了三天了" in page
    # Opening it marked nothing; without JavaScript the secretary says so with the page's button.
    newest = re.search(r'name="up_to" value="(\d+)"', page)
    assert newest is not None
    await post_form(secretary, f"{conversation}/read", {"up_to": newest.group(1)}, token_from=conversation)
    assert "条未读" not in await text(await secretary.get(f"/c/{community.slug}/messages"))  # seen now
    await _send(secretary, conversation, "收到，今天下午派人去修。")

    own = await text(await resident.get(conversation))
    assert "收到，今天下午派人去修。" in own
    # The resident's message was read by the secretary: "Read" stands under it.
    assert re.search(r"5号楼的路灯坏了三天了.*?read-receipt", own, re.S)
    # The same conversation again from the secretary's side, not a second one.
    again = await post_form(
        secretary, f"/c/{community.slug}/messages/with/zhangwei", token_from=f"/c/{community.slug}/messages"
    )
    assert again.headers["Location"] == conversation  # type: ignore[attr-defined]


async def test_a_retried_send_is_stored_once_and_bad_input_is_explained(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "wangfang")
    await member_client(app, db, community, "secretary_wang", role=Role.SECRETARY)
    started = await post_form(
        resident, f"/c/{community.slug}/messages/with/secretary_wang", token_from=f"/c/{community.slug}/messages"
    )
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    page = await text(await resident.get(conversation))
    client_id = _CLIENT_ID.search(page).group(1)  # type: ignore[union-attr]
    for _ in range(2):  # a double tap, or a retry after the answer was lost
        response = await _send(resident, conversation, "请问垃圾分类几点收？", client_id=client_id)
        assert response.status_code == 302  # type: ignore[attr-defined]
    assert await _stored(db) == 1
    empty = await _send(resident, conversation, "   ")
    assert empty.status_code == 422  # type: ignore[attr-defined]
    assert "请写下消息或选择图片。" in await text(empty)
    long = await _send(resident, conversation, "长" * 4001)
    assert long.status_code == 422 and "最多 4000 个字符" in await text(long)  # type: ignore[attr-defined]
    forged = await resident.post(conversation, form={"body": "hi", "client_id": "abcdefgh12", "csrf_token": "x" * 20})
    assert forged.status_code == 403
    missing = await resident.post(conversation, form={"body": "hi", "client_id": "abcdefgh12"})
    assert missing.status_code in (400, 403)
    assert await _stored(db) == 1


async def test_nobody_but_the_participants_can_open_or_write_to_a_conversation(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    await member_client(app, db, community, "wangfang")
    neighbour = await member_client(app, db, community, "lina")
    secretary = await member_client(app, db, community, "secretary_li", role=Role.SECRETARY)
    admin_user = await make_user(db, username="district_admin")
    await make_district_admin(db, user=admin_user, district_id=community.district_id)
    admin = await signed_in(app, "district_admin")

    started = await post_form(
        zhang, f"/c/{community.slug}/messages/with/wangfang", token_from=f"/c/{community.slug}/messages"
    )
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    await _send(zhang, conversation, "只给王芳看的话")
    for outsider in (neighbour, secretary, admin):
        opened = await outsider.get(conversation)
        assert opened.status_code == 404
        assert "只给王芳看的话" not in await text(opened)
        token = await csrf_token(outsider, "/")
        written = await outsider.post(
            conversation, form={"body": "偷看", "client_id": "intruder-01", "csrf_token": token}
        )
        assert written.status_code == 404
        inbox = await outsider.get(f"/c/{community.slug}/messages")
        assert conversation not in await text(inbox)
    assert (await admin.get(f"/c/{community.slug}/messages")).status_code == 403  # not a member there
    assert await _stored(db) == 1


async def test_messaging_someone_who_is_not_a_member_here_is_refused_clearly(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "zhangwei")
    await make_user(db, username="stranger")
    response = await post_form(
        resident, f"/c/{community.slug}/messages/with/stranger", token_from=f"/c/{community.slug}/messages"
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "您只能给本社区已认证的成员发私信。" in await text(response)
    nobody = await post_form(
        resident, f"/c/{community.slug}/messages/with/nobody-here", token_from=f"/c/{community.slug}/messages"
    )
    assert nobody.status_code == 404  # type: ignore[attr-defined]


async def test_marking_read_is_for_participants_and_takes_a_message_id(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    wang = await member_client(app, db, community, "wangfang")
    neighbour = await member_client(app, db, community, "lina")
    started = await post_form(
        zhang, f"/c/{community.slug}/messages/with/wangfang", token_from=f"/c/{community.slug}/messages"
    )
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    await _send(zhang, conversation, "周六大扫除")
    bad = await post_form(wang, f"{conversation}/read", {"up_to": "最后"}, token_from="/")
    assert bad.status_code == 422  # type: ignore[attr-defined]
    outsider = await post_form(neighbour, f"{conversation}/read", {"up_to": "1"}, token_from="/")
    assert outsider.status_code == 404  # type: ignore[attr-defined]
    inbox = f"/c/{community.slug}/messages"
    assert "1 条未读" in await text(await wang.get(inbox))
    done = await post_form(wang, f"{conversation}/read", {"up_to": "999999"}, token_from="/")
    assert done.status_code == 302  # type: ignore[attr-defined]  # a form: back to the conversation
    assert "条未读" not in await text(await wang.get(inbox))
    # What static/js/live-messages.js asks for: the mark, as JSON.
    token = await csrf_token(wang, conversation)
    answer = await wang.post(
        f"{conversation}/read", form={"up_to": "999999", "csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200 and (await answer.get_json())["last_read_message_id"] > 0


async def test_opening_a_conversation_marks_nothing_read_until_the_reader_says_so(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    wang = await member_client(app, db, community, "wangfang")
    inbox = f"/c/{community.slug}/messages"
    started = await post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    await _send(zhang, conversation, "明早停水，记得接水")
    api = f"/api/v1/conversations/{conversation.rsplit('/', 1)[1]}/messages"

    async def wangs_mark() -> tuple[int, int]:
        async with db.read_only() as session:
            mark = (
                await session.execute(
                    select(ConversationMember.last_read_message_id)
                    .join(User, col(User.id) == col(ConversationMember.user_id))
                    .where(col(User.username) == "wangfang")
                )
            ).scalar_one()
            reads = (
                await session.execute(select(func.count()).select_from(Event).where(col(Event.type) == "message.read"))
            ).scalar_one()
        return int(mark), int(reads)

    # A GET is only a look: a link preview, a prefetch or a reload must not tell the sender it was read.
    page = await text(await wang.get(conversation))
    assert "明早停水" in page
    assert (await wang.get(api)).status_code == 200
    assert await wangs_mark() == (0, 0)
    assert "1 条未读" in await text(await wang.get(inbox))
    receipt = 'class="meta read-receipt"'  # once in the page's <template> for live-messages.js, once if shown
    assert (await text(await zhang.get(conversation))).count(receipt) == 1

    # The page says how to say it without JavaScript (with it, static/js/live-messages.js does and hides this).
    button = re.search(r'<form[^>]*class="[^"]*mark-read-form.*?</form>', page, re.S)
    assert button is not None and "标为已读" in button.group(0)
    newest = re.search(r'name="up_to" value="(\d+)"', button.group(0))
    assert newest is not None
    done = await post_form(wang, f"{conversation}/read", {"up_to": newest.group(1)}, token_from=conversation)
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert done.headers["Location"].startswith(conversation)  # type: ignore[attr-defined]
    assert await wangs_mark() == (int(newest.group(1)), 1)
    assert "条未读" not in await text(await wang.get(inbox))
    assert "mark-read-form" not in await text(await wang.get(conversation))  # nothing left to mark
    assert (await text(await zhang.get(conversation))).count(receipt) == 2


async def test_the_header_link_goes_to_the_one_community_or_offers_a_choice(app: Quart, db: Database) -> None:
    first, second = await make_community(db, name="月浦新村"), await make_community(db, name="罗泾村")
    resident = await member_client(app, db, first, "zhangwei")
    response = await resident.get("/messages")
    assert response.status_code == 302 and response.headers["Location"] == f"/c/{first.slug}/messages"
    user = await make_user(db, username="two_homes")
    for community in (first, second):
        await make_member(db, user=user, community=community)
    both = await signed_in(app, "two_homes")
    page = await text(await both.get("/messages"))
    assert f"/c/{first.slug}/messages" in page and f"/c/{second.slug}/messages" in page
    stranger = await make_user(db, username="not_yet_a_member")
    assert stranger.id
    alone = await signed_in(app, "not_yet_a_member")
    assert "请先加入您的社区" in await text(await alone.get("/messages"))


async def test_the_secretary_sees_how_long_each_unanswered_resident_has_waited(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "zhangwei")
    secretary = await member_client(app, db, community, "secretary_li", role=Role.SECRETARY)
    inbox = f"/c/{community.slug}/messages"
    started = await post_form(resident, f"{inbox}/with/secretary_li", token_from=inbox)
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    await _send(resident, conversation, "下水道堵了")
    assert "等待您回复" in await text(await secretary.get(inbox))
    assert "等待您回复" not in await text(await resident.get(inbox))  # residents are not told to hurry
    await _send(secretary, conversation, "明天上午来修")
    assert "等待您回复" not in await text(await secretary.get(inbox))


async def test_blocking_from_a_profile_and_choosing_who_may_write_in_settings(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    wang = await member_client(app, db, community, "wangfang")
    li = await member_client(app, db, community, "lina")
    await member_client(app, db, community, "secretary_li", role=Role.SECRETARY)
    inbox = f"/c/{community.slug}/messages"
    started = await post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    assert "屏蔽此人的私信" in await text(await zhang.get("/u/wangfang"))

    secretary_page = await text(await zhang.get("/u/secretary_li"))
    assert "屏蔽此人的私信" not in secretary_page  # a secretary can always reach residents: no false promise
    blocked = await post_form(wang, "/settings/blocked/zhangwei", token_from="/u/zhangwei")
    assert blocked.status_code == 302  # type: ignore[attr-defined]
    assert "取消屏蔽" in await text(await wang.get("/u/zhangwei"))
    assert "Zhangwei" in await text(await wang.get("/settings"))
    refused = await _send(zhang, conversation, "在吗？")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "Wangfang 不接收您的私信。" in await text(refused)
    assert await _stored(db) == 0
    await post_form(wang, "/settings/blocked/zhangwei/remove", token_from="/settings")
    assert (await _send(zhang, conversation, "在吗？")).status_code == 302  # type: ignore[attr-defined]

    wrong = await post_form(wang, "/settings/messages", {"message_policy": "nobody"}, token_from="/settings")
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    saved = await post_form(wang, "/settings/messages", {"message_policy": "contacts"}, token_from="/settings")
    assert saved.status_code == 302  # type: ignore[attr-defined]
    assert 'value="contacts" checked' in await text(await wang.get("/settings"))
    stranger = await post_form(li, f"{inbox}/with/wangfang", token_from=inbox)
    assert stranger.status_code == 403  # type: ignore[attr-defined]
    again = await post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)  # zhang is a contact now
    assert again.headers["Location"] == conversation  # type: ignore[attr-defined]


async def test_a_group_is_started_by_usernames_and_mistakes_are_named(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    await member_client(app, db, community, "wangfang")
    lina = await member_client(app, db, community, "lina")
    await make_user(db, username="elsewhere")
    inbox = f"/c/{community.slug}/messages"
    named = {"title": "12号楼", "usernames": "wangfang, elsewhere"}
    unknown = await post_form(zhang, f"{inbox}/groups", named, token_from=inbox)
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    assert "本社区没有名为 elsewhere 的已认证成员。" in await text(unknown)
    empty = await post_form(zhang, f"{inbox}/groups", {"title": "12号楼", "usernames": " , "}, token_from=inbox)
    assert empty.status_code == 422  # type: ignore[attr-defined]
    started = await post_form(
        zhang, f"{inbox}/groups", {"title": " 12号楼志愿者 ", "usernames": "@wangfang，lina wangfang"}, token_from=inbox
    )
    assert started.status_code == 302  # type: ignore[attr-defined]
    group = started.headers["Location"]  # type: ignore[attr-defined]
    page = await text(await lina.get(group))
    assert "12号楼志愿者" in page and "Zhangwei" in page and "Wangfang" in page
    await _send(zhang, group, "周六上午九点集合")
    assert "1 条未读" in await text(await lina.get(inbox))


async def test_a_reported_message_reaches_the_secretaries_alone_and_is_reviewed(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    wang = await member_client(app, db, community, "wangfang")
    outsider = await member_client(app, db, community, "lina")
    secretary = await member_client(app, db, community, "secretary_li", role=Role.SECRETARY)
    inbox = f"/c/{community.slug}/messages"
    started = await post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    await _send(zhang, conversation, "这是私下说的第一句")
    await _send(wang, conversation, "你再这样我就报警")
    async with db.read_only() as session:
        ids = list((await session.execute(select(col(Message.id)).order_by(col(Message.id)))).scalars())
    threat = ids[1]

    flag = f"{conversation}/flag"
    form = await text(await zhang.get(f"{flag}?message_id={threat}"))
    assert f'name="message_id" value="{threat}"' in form and 'name="reason"' in form
    own = await post_form(wang, flag, {"message_id": str(threat), "reason": "abuse"}, token_from=conversation)
    assert own.status_code == 422  # type: ignore[attr-defined]
    foreign = await post_form(outsider, flag, {"message_id": str(threat), "reason": "abuse"}, token_from="/")
    assert foreign.status_code == 404  # type: ignore[attr-defined]
    no_reason = await post_form(zhang, flag, {"message_id": str(threat)}, token_from=conversation)
    assert no_reason.status_code == 422  # type: ignore[attr-defined]
    for _ in range(2):  # twice: one flag
        reported = await post_form(
            zhang, flag, {"message_id": str(threat), "reason": "abuse", "note": "威胁"}, token_from=conversation
        )
        assert reported.status_code == 302  # type: ignore[attr-defined]

    queue = f"/c/{community.slug}/review"
    assert (await zhang.get(queue)).status_code == 403
    old_page = await secretary.get(f"/c/{community.slug}/message-reports")
    assert old_page.headers["Location"] == queue  # type: ignore[attr-defined]
    page = await text(await secretary.get(queue))
    assert "你再这样我就报警" in page and "威胁" in page and "私信" in page
    assert "这是私下说的第一句" not in page  # the message, never the conversation
    assert page.count('class="card flagged"') == 1
    assert (await secretary.get(conversation)).status_code == 404  # and the conversation stays closed to them
    review = f"/message/{threat}/review"
    assert (await post_form(zhang, review, {"decision": "disagree"}, token_from="/")).status_code == 404  # type: ignore[attr-defined]
    done = await post_form(
        secretary, review, {"decision": "agree", "reason": "威胁邻居", "mute_hours": "24"}, token_from=queue
    )
    assert done.status_code == 302  # type: ignore[attr-defined]
    assert "你再这样我就报警" not in await text(await secretary.get(queue))
    # Hidden from the other participant, there for its sender with the reason; the sender is muted.
    reader = await text(await zhang.get(conversation))
    assert "你再这样我就报警" not in reader and "书记在收到举报后隐藏了这条私信" in reader
    sender = await text(await wang.get(conversation))
    assert "你再这样我就报警" in sender and "威胁邻居" in sender
    muted = await _send(wang, conversation, "再说一句")
    assert muted.status_code == 403  # type: ignore[attr-defined]
    async with db.read_only() as session:
        actions = list((await session.execute(select(col(AuditEntry.action)))).scalars())
        told = list((await session.execute(select(col(Notification.kind)))).scalars())
    assert actions.count("flags.agreed") == 1 and "member.muted" in actions
    assert "flag_agreed" in told and "message_hidden" in told


async def test_saved_answers_are_sent_with_one_tap_once_and_are_ones_own(app: Quart, db: Database) -> None:
    community = await make_community(db)
    resident = await member_client(app, db, community, "zhangwei")
    secretary = await member_client(app, db, community, "secretary_li", role=Role.SECRETARY)
    other = await member_client(app, db, community, "secretary_wang", role=Role.SECRETARY)
    inbox = f"/c/{community.slug}/messages"
    started = await post_form(resident, f"{inbox}/with/secretary_li", token_from=inbox)
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    await _send(resident, conversation, "几点能办居住证？")

    nothing = {"answer_title": "", "answer_body": ""}
    empty = await post_form(secretary, "/settings/answers", nothing, token_from="/settings")
    assert empty.status_code == 422  # type: ignore[attr-defined]
    hours = {"answer_title": "办公时间", "answer_body": "居委会周一到周五 8:30–17:00 办理，周六上午值班。"}
    assert (await post_form(secretary, "/settings/answers", hours, token_from="/settings")).status_code == 302  # type: ignore[attr-defined]
    page = await text(await secretary.get(conversation))
    assert "发送：办公时间" in page
    quick = re.search(r'name="client_id" value="([^"]+)"><input type="hidden" name="body" value="([^"]+)"', page)
    assert quick is not None
    for _ in range(2):  # a double tap
        tapped = {"client_id": quick.group(1), "body": hours["answer_body"]}
        await post_form(secretary, conversation, tapped, token_from=conversation)
    async with db.read_only() as session:
        bodies = list((await session.execute(select(col(Message.body)).order_by(col(Message.id)))).scalars())
    assert bodies == ["几点能办居住证？", hours["answer_body"]]

    settings = await text(await secretary.get("/settings"))
    answer_id = re.search(r"/settings/answers/(\d+)/delete", settings).group(1)  # type: ignore[union-attr]
    delete = f"/settings/answers/{answer_id}/delete"
    assert (await post_form(other, delete, token_from="/settings")).status_code == 404  # type: ignore[attr-defined]
    assert (await post_form(secretary, delete, token_from="/settings")).status_code == 302  # type: ignore[attr-defined]
    assert "发送：办公时间" not in await text(await secretary.get(conversation))


async def test_odd_numbers_are_clear_errors_not_crashes(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    await member_client(app, db, community, "wangfang")
    inbox = f"/c/{community.slug}/messages"
    started = await post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
    conversation = started.headers["Location"]  # type: ignore[attr-defined]
    for before in ("%C2%B2", "99999999999", "-1", "1e3"):  # %C2%B2: "²", a digit to str.isdigit
        assert (await zhang.get(f"{conversation}?before={before}")).status_code == 200
    for odd in ("²", "99999999999", "999999999999", "٣"):
        read = await post_form(zhang, f"{conversation}/read", {"up_to": odd}, token_from="/")
        assert read.status_code == 422  # type: ignore[attr-defined]
        report = await post_form(zhang, f"{conversation}/flag", {"message_id": odd, "reason": "spam"}, token_from="/")
        assert report.status_code == 422  # type: ignore[attr-defined]
    api = f"/api/v1/conversations/{conversation.rsplit('/', 1)[1]}/messages"
    assert (await zhang.get(f"{api}?before=99999999999")).status_code in (400, 422)
    assert (await zhang.get(f"{api}?before=1000000000000000000000")).status_code in (400, 422)


async def test_a_former_member_still_finds_their_conversations(app: Quart, db: Database) -> None:
    community = await make_community(db)
    zhang = await member_client(app, db, community, "zhangwei")
    await member_client(app, db, community, "wangfang")
    inbox = f"/c/{community.slug}/messages"
    await post_form(zhang, f"{inbox}/with/wangfang", token_from=inbox)
    async with db.unit_of_work() as session:
        membership = (
            await session.execute(
                select(Membership)
                .join(User, col(User.id) == col(Membership.user_id))
                .where(col(User.username) == "zhangwei")
            )
        ).scalar_one()
        membership.status = MembershipStatus.REMOVED
    response = await zhang.get("/messages")
    assert response.status_code == 302 and response.headers["Location"] == inbox
    assert "Wangfang" in await text(await zhang.get(inbox))
