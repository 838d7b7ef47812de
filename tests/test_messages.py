"""Private messages, the domain layer: who may reach whom, idempotent sending, read marks and unread counts,
and that nobody but the participants can fetch a conversation. Both databases."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from forum import rooms
from forum.access import access_conversation
from forum.actions import conversations, message_settings, messages
from forum.db import Database
from forum.errors import Forbidden, InvalidInput, NotFound
from forum.models import (
    Community,
    Conversation,
    Event,
    Membership,
    MembershipStatus,
    Message,
    MessagePolicy,
    Role,
    User,
)
from forum.queries.messages import conversations_of, messages_page, read_marks, unread_total
from forum.queries.threads import latest_event_id
from tests.factories import (
    make_community,
    make_conversation,
    make_district_admin,
    make_member,
    make_message,
    make_pending,
    make_user,
)


@dataclass
class Neighbourhood:
    community: Community
    secretary: User
    zhang: User
    wang: User
    li: User


async def _neighbourhood(db: Database) -> Neighbourhood:
    community = await make_community(db)
    secretary, zhang, wang, li = [await make_user(db) for _ in range(4)]
    await make_member(db, user=secretary, community=community, role=Role.SECRETARY)
    for resident in (zhang, wang, li):
        await make_member(db, user=resident, community=community)
    return Neighbourhood(community, secretary, zhang, wang, li)


async def _set_policy(db: Database, user: User, policy: str) -> None:
    async with db.unit_of_work() as session:
        loaded = await session.get(User, user.id)
        assert loaded is not None
        await message_settings.set_message_policy(session, actor=loaded, policy=policy)
    user.message_policy = policy


async def _block(db: Database, actor: User, target: User, *, blocked: bool = True) -> None:
    async with db.unit_of_work() as session:
        await message_settings.set_blocked(session, actor=actor, target=target, blocked=blocked)


async def test_two_people_have_one_conversation_per_community_whoever_starts_it(db: Database) -> None:
    n = await _neighbourhood(db)
    first = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    again = await make_conversation(db, starter=n.wang, community=n.community, others=[n.zhang])
    assert first.id == again.id
    other_community = await make_community(db)
    for person in (n.zhang, n.wang):
        await make_member(db, user=person, community=other_community)
    elsewhere = await make_conversation(db, starter=n.zhang, community=other_community, others=[n.wang])
    assert elsewhere.id != first.id
    with pytest.raises(InvalidInput):
        await make_conversation(db, starter=n.zhang, community=n.community, others=[n.zhang])


async def test_only_verified_members_of_the_community_message_each_other(db: Database) -> None:
    n = await _neighbourhood(db)
    outsider, applicant = await make_user(db), await make_user(db)
    await make_pending(db, user=applicant, community=n.community)
    with pytest.raises(InvalidInput):  # not a member here
        await make_conversation(db, starter=n.zhang, community=n.community, others=[outsider])
    with pytest.raises(InvalidInput):  # not verified yet
        await make_conversation(db, starter=n.zhang, community=n.community, others=[applicant])
    with pytest.raises(Forbidden):  # and cannot start one either
        await make_conversation(db, starter=applicant, community=n.community, others=[n.secretary])


async def test_contacts_only_and_blocks_stop_residents_but_never_stop_anyone_reaching_the_secretary(
    db: Database,
) -> None:
    n = await _neighbourhood(db)
    await _set_policy(db, n.wang, MessagePolicy.CONTACTS)
    with pytest.raises(conversations.NotReachable):
        await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    # Secretaries reach anyone, and once they share a conversation, wang counts the secretary as a contact.
    assert await make_conversation(db, starter=n.secretary, community=n.community, others=[n.wang])
    await _set_policy(db, n.secretary, MessagePolicy.CONTACTS)
    await _block(db, n.secretary, n.zhang)
    assert await make_conversation(
        db, starter=n.zhang, community=n.community, others=[n.secretary]
    )  # a resident can always reach the secretary
    # Once wang and zhang share a conversation (a group the secretary started), they are contacts.
    await make_conversation(db, starter=n.secretary, community=n.community, others=[n.zhang, n.wang], title="楼组长")
    assert await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])


async def test_a_block_stops_new_messages_in_an_existing_conversation_and_unblocking_restores_them(
    db: Database,
) -> None:
    n = await _neighbourhood(db)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    assert conversation.id is not None
    await make_message(db, sender=n.zhang, conversation=conversation.id, body="你好", client_id="hello-0001")
    await _block(db, n.wang, n.zhang)
    await _block(db, n.wang, n.zhang)  # twice: no error, one row
    with pytest.raises(conversations.NotReachable):
        await make_message(db, sender=n.zhang, conversation=conversation.id, body="还在吗", client_id="hello-0002")
    await make_message(
        db, sender=n.wang, conversation=conversation.id, body="别发了", client_id="reply-0001"
    )  # the one who blocked can still write
    await _block(db, n.wang, n.zhang, blocked=False)
    await make_message(db, sender=n.zhang, conversation=conversation.id, body="抱歉", client_id="hello-0003")
    async with db.read_only() as session:
        bodies = [message.body for message in (await messages_page(session, conversation)).messages]
    assert bodies == ["你好", "别发了", "抱歉"]


async def test_groups_hold_at_most_ten_and_every_member_must_be_reachable(db: Database) -> None:
    n = await _neighbourhood(db)
    await _set_policy(db, n.wang, MessagePolicy.CONTACTS)
    with pytest.raises(conversations.NotReachable):
        await make_conversation(db, starter=n.li, community=n.community, others=[n.zhang, n.wang], title="12号楼")
    crowd = [await make_user(db) for _ in range(10)]
    for person in crowd:
        await make_member(db, user=person, community=n.community)
    with pytest.raises(InvalidInput):
        await make_conversation(
            db, starter=n.zhang, community=n.community, others=list(crowd), title="太多人"
        )  # 11 with zhang
    group = await make_conversation(
        db, starter=n.zhang, community=n.community, others=list(crowd[:9]), title="  志愿者  "
    )
    assert group.title == "志愿者" and group.pair_key is None
    async with db.read_only() as session:
        rows = await conversations_of(session, n.zhang, community_id=n.community.id or 0)
    assert [len(row.others) for row in rows] == [9]


async def test_sending_is_idempotent_by_the_senders_id_and_bad_input_stores_nothing(db: Database) -> None:
    n = await _neighbourhood(db)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.secretary])
    assert conversation.id is not None
    first = await make_message(
        db, sender=n.zhang, conversation=conversation.id, body="楼道灯坏了", client_id="7f3c9a2e-retry"
    )
    retried = await make_message(
        db, sender=n.zhang, conversation=conversation.id, body="楼道灯坏了", client_id="7f3c9a2e-retry"
    )
    assert retried.id == first.id
    for body, client_id in [
        ("", "7f3c9a2e-empty"),
        ("长" * (messages.MAX_MESSAGE_CHARS + 1), "7f3c9a2e-long"),
        ("好", "short"),
        ("好", "has space in it"),
        ("好", None),
        (["不是文字"], "7f3c9a2e-list"),
    ]:
        with pytest.raises(InvalidInput):
            await make_message(db, sender=n.zhang, conversation=conversation.id, body=body, client_id=client_id)
    async with db.read_only() as session:
        assert (await session.execute(select(func.count()).select_from(Message))).scalar_one() == 1
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None and stored.last_message_id == first.id
    assert first.body_html.startswith("<p>") and "楼道灯坏了" in first.body_html


async def test_unread_counts_and_read_marks(db: Database) -> None:
    n = await _neighbourhood(db)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    group = await make_conversation(db, starter=n.li, community=n.community, others=[n.zhang, n.wang], title="停车")
    assert conversation.id is not None and group.id is not None
    await make_message(
        db, sender=n.zhang, conversation=conversation.id, body="在吗", client_id="zhang-msg-0"
    )  # own messages are never unread
    for number in range(3):
        await make_message(
            db, sender=n.wang, conversation=conversation.id, body=f"第{number}条", client_id=f"wang-msg-{number}"
        )
    last_in_group = await make_message(db, sender=n.li, conversation=group.id, body="明天开会", client_id="li-msg-0000")
    async with db.read_only() as session:
        assert await unread_total(session, n.zhang) == 4
        rows = await conversations_of(session, n.zhang, community_id=n.community.id or 0)
        assert [(row.conversation.id, row.unread) for row in rows] == [(group.id, 1), (conversation.id, 3)]
        assert {person.username for person in rows[0].others} == {n.li.username, n.wang.username}
    async with db.unit_of_work() as session:
        found, member, _standing = await access_conversation(session, n.zhang, group.id)
        assert await messages.mark_read(session, conversation=found, member=member, up_to=10**9) == last_in_group.id
        assert await messages.mark_read(session, conversation=found, member=member, up_to=1) == last_in_group.id
    async with db.read_only() as session:
        assert await unread_total(session, n.zhang) == 3
        marks = await read_marks(session, group, viewer=n.li)
        assert marks == {n.zhang.id: last_in_group.id, n.wang.id: 0}
    await make_message(
        db, sender=n.zhang, conversation=conversation.id, body="收到", client_id="zhang-msg-1"
    )  # answering is having read
    async with db.read_only() as session:
        assert await unread_total(session, n.zhang) == 0


async def test_only_participants_can_fetch_a_conversation(db: Database) -> None:
    """The privacy matrix of the domain layer: a third resident, the community's secretary and the district's
    admin all get "not found", exactly as for a conversation that does not exist."""
    n = await _neighbourhood(db)
    admin = await make_user(db)
    await make_district_admin(db, user=admin, district_id=n.community.district_id)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    assert conversation.id is not None
    await make_message(db, sender=n.zhang, conversation=conversation.id, body="私事", client_id="private-0001")
    async with db.read_only() as session:
        for participant in (n.zhang, n.wang):
            found, member, _standing = await access_conversation(session, participant, conversation.id)
            assert found.id == conversation.id and member.user_id == participant.id
        for outsider in (n.li, n.secretary, admin):
            with pytest.raises(NotFound):
                await access_conversation(session, outsider, conversation.id)
            rows = await conversations_of(session, outsider, community_id=n.community.id or 0)
            assert rows == []
            assert await unread_total(session, outsider) == 0
        with pytest.raises(NotFound):
            await access_conversation(session, n.zhang, conversation.id + 1000)


async def test_a_member_removed_from_the_community_can_read_but_no_longer_send(db: Database) -> None:
    n = await _neighbourhood(db)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    assert conversation.id is not None
    async with db.unit_of_work() as session:
        membership = (
            await session.execute(
                select(Membership).where(
                    col(Membership.user_id) == n.zhang.id, col(Membership.community_id) == n.community.id
                )
            )
        ).scalar_one()
        membership.status = MembershipStatus.REMOVED
    with pytest.raises(Forbidden):
        await make_message(db, sender=n.zhang, conversation=conversation.id, body="我搬走了", client_id="moved-0001")
    async with db.read_only() as session:
        await access_conversation(session, n.zhang, conversation.id)  # the history stays theirs to read


async def test_pages_of_messages_go_back_by_keyset(db: Database) -> None:
    n = await _neighbourhood(db)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    assert conversation.id is not None
    sent = [
        await make_message(db, sender=n.zhang, conversation=conversation.id, body=f"{i}", client_id=f"page-msg-{i:04d}")
        for i in range(7)
    ]
    async with db.read_only() as session:
        newest = await messages_page(session, conversation, limit=3)
        assert [m.id for m in newest.messages] == [m.id for m in sent[4:]] and newest.has_earlier
        middle = await messages_page(session, conversation, before=newest.messages[0].id, limit=3)
        assert [m.id for m in middle.messages] == [m.id for m in sent[1:4]] and middle.has_earlier
        oldest = await messages_page(session, conversation, before=middle.messages[0].id, limit=3)
        assert [m.id for m in oldest.messages] == [sent[0].id] and not oldest.has_earlier


async def _events_after(db: Database, after: int) -> list[tuple[str, str, dict[str, object]]]:
    async with db.read_only() as session:
        rows = (await session.execute(select(Event).where(col(Event.id) > after).order_by(col(Event.id)))).scalars()
        return [(row.room, row.type, json.loads(row.payload)) for row in rows]


async def _newest_event(db: Database) -> int:
    async with db.read_only() as session:
        return await latest_event_id(session)


async def test_sending_and_reading_record_the_events_participants_receive(db: Database) -> None:
    n = await _neighbourhood(db)
    conversation = await make_conversation(db, starter=n.zhang, community=n.community, others=[n.wang])
    assert conversation.id is not None
    before = await _newest_event(db)
    message = await make_message(
        db, sender=n.zhang, conversation=conversation.id, body="**晚上**好", client_id="evening-0001"
    )
    room = f"conversation:{conversation.id}"
    created, *unread = await _events_after(db, before)
    assert created[0] == room and created[1] == "message.created"
    assert created[2]["client_id"] == "evening-0001" and created[2]["message_id"] == message.id
    assert created[2]["sender"] == {  # type: ignore[comparison-overlap]
        "id": n.zhang.id,
        "username": n.zhang.username,
        "display_name": n.zhang.display_name,
        "is_party_member": False,
    }
    assert "<strong>晚上</strong>" in str(created[2]["body_html"])
    assert sorted((r, t, d["unread"]) for r, t, d in unread) == sorted(
        [
            (f"user:{n.zhang.id}", "unread.changed", 0),
            (f"user:{n.wang.id}", "unread.changed", 1),
            (f"user:{n.wang.id}", "notifications.changed", 1),  # wang was not reading the conversation
        ]
    )

    before = await _newest_event(db)
    await make_message(
        db, sender=n.zhang, conversation=conversation.id, body="**晚上**好", client_id="evening-0001"
    )  # a retry: stored once, no events
    assert await _events_after(db, before) == []

    async with db.unit_of_work() as session:
        found, member, _standing = await access_conversation(session, n.wang, conversation.id)
        await messages.mark_read(session, conversation=found, member=member, up_to=message.id or 0)
    read, unread_now, bell = await _events_after(db, before)
    assert read == (
        room,
        "message.read",
        {
            "type": "message.read",
            "conversation_id": conversation.id,
            "user_id": n.wang.id,
            "last_read_message_id": message.id,
        },
    )
    assert unread_now == (f"user:{n.wang.id}", "unread.changed", {"type": "unread.changed", "unread": 0})
    # Reading the conversation also reads the notification about it.
    assert bell == (f"user:{n.wang.id}", "notifications.changed", {"type": "notifications.changed", "unread": 0})
    before = await _newest_event(db)
    async with db.unit_of_work() as session:  # reading again changes nothing and says nothing
        found, member, _standing = await access_conversation(session, n.wang, conversation.id)
        await messages.mark_read(session, conversation=found, member=member, up_to=message.id or 0)
    assert await _events_after(db, before) == []


async def test_a_secretarys_inbox_puts_unanswered_conversations_first_longest_waiting_on_top(db: Database) -> None:
    n = await _neighbourhood(db)
    ids = {}
    for resident, text in ((n.zhang, "第一个问"), (n.wang, "第二个问"), (n.li, "第三个问")):
        conversation = await make_conversation(db, starter=resident, community=n.community, others=[n.secretary])
        assert conversation.id is not None
        await make_message(
            db, sender=resident, conversation=conversation.id, body=text, client_id=f"ask-{resident.username}"
        )
        ids[resident.username] = conversation.id
    await make_message(
        db, sender=n.secretary, conversation=ids[n.wang.username], body="已处理", client_id="answer-wang-01"
    )  # wang has an answer
    async with db.read_only() as session:
        inbox = await conversations_of(session, n.secretary, community_id=n.community.id or 0, unanswered_first=True)
        by_recency = await conversations_of(session, n.secretary, community_id=n.community.id or 0)
        residents_view = await conversations_of(session, n.zhang, community_id=n.community.id or 0)
    assert [row.conversation.id for row in inbox] == [ids[n.zhang.username], ids[n.li.username], ids[n.wang.username]]
    assert [row.waiting_since is not None for row in inbox] == [True, True, False]
    assert by_recency[0].conversation.id == ids[n.wang.username]  # answered last, so newest
    assert [row.waiting_since for row in residents_view] == [None]  # zhang wrote last: nothing waits for zhang


async def test_concurrent_twins_end_as_one_and_marks_and_counts_stay_right(db: Database) -> None:
    """A double tap, two people opening their conversation at once, many sends at once: one row each, the
    newest message and read marks never move back, and the last unread count sent is the true one."""
    n = await _neighbourhood(db)
    opened = await asyncio.gather(
        *(
            make_conversation(db, starter=a, community=n.community, others=[b])
            for a, b in [(n.zhang, n.wang), (n.wang, n.zhang)] * 3
        )
    )
    assert len({conversation.id for conversation in opened}) == 1
    conversation_id = opened[0].id
    assert conversation_id is not None
    twins = await asyncio.gather(
        *(
            make_message(db, sender=n.zhang, conversation=conversation_id, body="同一条", client_id="twin-000001")
            for _ in range(6)
        )
    )
    assert len({message.id for message in twins}) == 1

    others = [
        await make_conversation(db, starter=person, community=n.community, others=[n.wang])
        for person in (n.li, n.secretary)
    ]
    before = await _newest_event(db)
    pairs = zip((n.li, n.secretary), others, strict=True)
    sends = [(n.zhang, conversation_id), *((person, c.id) for person, c in pairs)] * 4
    await asyncio.gather(
        *(
            make_message(db, sender=who, conversation=cid or 0, body=f"并发{i}", client_id=f"many-{i:06d}")
            for i, (who, cid) in enumerate(sends)
        )
    )
    async with db.read_only() as session:
        in_it = select(func.max(col(Message.id))).where(col(Message.conversation_id) == conversation_id)
        newest = (await session.execute(in_it)).scalar_one()
        stored = await session.get(Conversation, conversation_id)
        truth = await unread_total(session, n.wang)
    assert stored is not None and stored.last_message_id == newest
    counts = [
        data["unread"]
        for room, kind, data in await _events_after(db, before)
        if room == f"user:{n.wang.id}" and kind == "unread.changed"
    ]
    assert counts and counts[-1] == truth == 13  # the first message plus twelve

    async with db.unit_of_work() as session:
        found, member, _standing = await access_conversation(session, n.wang, conversation_id)
        assert await messages.mark_read(session, conversation=found, member=member, up_to=newest) == newest
    async with db.unit_of_work() as session:  # an older tab reporting late moves nothing back
        found, member, _standing = await access_conversation(session, n.wang, conversation_id)
        assert await messages.mark_read(session, conversation=found, member=member, up_to=1) == newest


async def test_a_room_name_with_odd_digits_is_simply_not_found(db: Database) -> None:
    n = await _neighbourhood(db)
    async with db.read_only() as session:
        for room in ("conversation:²", "conversation:9999999999", "conversation:-1", "thread:٣", "conversation:"):
            with pytest.raises(NotFound):
                await rooms.check_access(session, n.zhang, room)
