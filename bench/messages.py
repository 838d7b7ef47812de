"""Private messages: two-person conversations with messages flowing both ways at a steady rate, against a bare
python-socketio floor measured in the same run. Not a timed test.

    .venv/bin/python -m bench.messages --clients 1000 --messages 1500 [--rate 50] [--database-url URL] [--json]

Seeds a fresh database (as bench/fanout.py does: SQLite under a temp dir, or a throwaway PostgreSQL database)
with one community of N verified members with API sessions, paired into N/2 conversations by the domain action
(`conversations.start_direct`), each member in exactly one. Starts a real `forum serve` and connects one cheap raw
Socket.IO client per member (bench/fanout_client.py, over several processes), authenticated with
`auth={"token": ...}` and subscribed to its conversation's room. A load generator then sends the messages through
the JSON API (`POST /api/v1/conversations/<id>/messages`, the sender's bearer token, so no CSRF token), open loop
at a fixed total rate: message k goes to conversation k mod N/2 (in a fixed shuffled order), the first round from
one side, the next from the other, and so on.

Latency is from the moment the sender's HTTP response arrives to the moment the *other* participant's client
receives the matching `message.created` (keyed by message id), both read from CLOCK_MONOTONIC. Every message
must reach its recipient exactly once and the sender's own client (its other tabs' copy) exactly once, and no
other client; each participant must also get one `unread.changed` per message in their conversation. Server CPU
(utime+stime from /proc) is given per message.

The floor (bench/fanout_floor.py) serves the same clients with bare python-socketio under the same uvicorn
settings: `POST /emit?number=N&room=conversation:<id>` emits an envelope the size of Linli's `message.created`
to that room of two. It sends no `unread.changed` (Linli sends two per message, to the participants' own rooms).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select

from bench import common
from bench.fanout import (
    LINLI_COMMAND,
    Post,
    Run,
    Workers,
    add_members,
    database,
    drive,
    linli_env,
    linli_payload_bytes,
    percentile_ms,
    serving,
)
from forum import rooms
from forum.access import standing_in
from forum.actions import communities, conversations
from forum.db import Database
from forum.events import MessageCreated, PersonData
from forum.markup import render_markdown
from forum.models import AuthSession, Community, User
from forum.paths import message_path
from forum.timeutil import utcnow

# A typical private message between neighbours: one or two sentences of Chinese (Markdown renders it).
BODY = "王阿姨您好，您的快递我帮您放在3号楼门卫室了，今天下午五点前去拿就行。有事随时找我！"
RATIO_KEYS = ("p50_ms", "p99_ms", "max_ms", "send_p99_ms", "http_p50_ms", "server_cpu_ms_per_message")


@dataclass
class Seeded:
    tokens: list[str]  # one per member, in order
    conversations: list[tuple[int, int, int]]  # (conversation id, member index, member index)
    envelope: dict[str, Any]  # a message.created of the same size as Linli's, for the floor


@dataclass
class Exchange(Run):
    """One measurement. `posted`, `sent` are keyed by message id (the floor's: sequence + 1)."""

    schedule: list[tuple[int, int, int]] = field(default_factory=list)  # sequence -> (pair, sender, recipient)
    sequence_of: dict[int, int] = field(default_factory=dict)  # message id -> sequence
    misdelivered: int = 0  # received by a client outside the conversation
    echoes: int = 0  # the sender's own client got its message back, once
    missing_echoes: int = 0
    duplicated_echoes: int = 0
    sends_unread: bool = True  # Linli: one unread.changed per message to each participant; the floor: none
    unread_changed: int = 0
    unread_wrong_clients: int = 0  # clients whose count of unread.changed is not one per message of theirs

    def summary(self) -> dict[str, Any]:
        ordered, whole = sorted(self.latencies), sorted(self.end_to_end)
        http = sorted(ms / 1000 for ms in self.http_ms)
        sent = len(self.posted)
        return {
            "clients": self.clients,
            "conversations": self.clients // 2,
            "messages": self.replies,
            "sent": sent,
            "failed_sends": len(self.failed_posts),
            "delivered": self.delivered,
            "missing": self.missing,
            "duplicated": self.duplicated,
            "misdelivered": self.misdelivered,
            "unexpected": self.unexpected,
            "echoes": self.echoes,
            "missing_echoes": self.missing_echoes,
            "duplicated_echoes": self.duplicated_echoes,
            "unread_changed": self.unread_changed,
            "unread_wrong_clients": self.unread_wrong_clients if self.sends_unread else None,
            "lost_connections": self.lost_connections,
            "p50_ms": percentile_ms(ordered, 0.5),
            "p99_ms": percentile_ms(ordered, 0.99),
            "max_ms": percentile_ms(ordered, 1.0),
            "min_ms": ordered[0] * 1000 if ordered else math.nan,
            "send_p50_ms": percentile_ms(whole, 0.5),
            "send_p99_ms": percentile_ms(whole, 0.99),
            "http_p50_ms": percentile_ms(http, 0.5),
            "http_p99_ms": percentile_ms(http, 0.99),
            "server_cpu_s": self.server_cpu,
            "server_cpu_ms_per_message": self.server_cpu / sent * 1000 if sent else math.nan,
            "server_cpu_pct": self.server_cpu / self.window * 100 if self.window else 0.0,
            "client_cpu_max_pct": max(self.client_cpu, default=0.0) / self.window * 100 if self.window else 0.0,
            "window_s": self.window,
            "loadavg": self.loadavg,
        }


# --- seeding ---------------------------------------------------------------------------------------------------


async def seed(url: str, members: int) -> Seeded:
    """A community of `members` verified members in `members // 2` two-person conversations (members 2i and
    2i+1), each started by the domain action."""
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            district = await communities.create_district(session, name="宝山区", slug="messages")
            community = await communities.create_community(
                session, district=district, name="月浦新村", slug="messages-community"
            )
        assert community.id is not None
        tokens, user_ids = await add_members(db, community.id, members)
        pairs: list[tuple[int, int, int]] = []
        async with db.unit_of_work() as session:
            here = await session.get(Community, community.id)
            assert here is not None
            users = {
                user.id: user
                for user in (await session.execute(select(User).where(col(User.id).in_(user_ids)))).scalars()
            }
            for first in range(0, members - 1, 2):
                actor, other = users[user_ids[first]], users[user_ids[first + 1]]
                standing = await standing_in(session, actor, here)
                conversation, _new = await conversations.start_direct(
                    session, actor=actor, community=here, standing=standing, other=other
                )
                assert conversation.id is not None
                pairs.append((conversation.id, first, first + 1))
    finally:
        await db.dispose()
    conversation_id = pairs[0][0]
    event = MessageCreated(
        message_id=1_000_000,
        conversation_id=conversation_id,
        client_id=client_id(0),
        sender=PersonData(id=user_ids[0], username="reader0", display_name="邻居0", is_party_member=False),
        body_html=render_markdown(BODY),
        created_at=utcnow().isoformat(),
        url=message_path(conversation_id, 1_000_000),
    ).model_dump()
    room = rooms.CONVERSATION(conversation_id)
    envelope = {"type": event["type"], "id": 1_000_000, "room": room, "data": event}
    return Seeded(tokens=tokens, conversations=pairs, envelope=envelope)


async def refresh_sessions(url: str) -> None:
    """Mark every session as seen now. A session last seen over a minute ago is touched (written) when it
    connects, and by the time Linli's clients connect, the floor's run has taken longer than that: 1,000 writes
    at once, which is not what is measured here (and on a busy machine made one connect time out on SQLite's
    write lock)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(AuthSession).values(last_seen_at=utcnow()))
    finally:
        await engine.dispose()


def client_id(sequence: int) -> str:
    return f"bench-{sequence:08d}"


def plan(pairs: int, count: int) -> list[tuple[int, int]]:
    """(pair, which side sends) for each message: every conversation once per round, sides alternating by round."""
    order = list(range(pairs))
    random.Random(2026).shuffle(order)  # neighbouring messages in unrelated conversations, the same every run
    return [(order[sequence % pairs], (sequence // pairs) % 2) for sequence in range(count)]


# --- sending ---------------------------------------------------------------------------------------------------

Sender = Callable[[httpx.AsyncClient, "Seeded", "Exchange"], Post]  # makes the function that sends one message


def linli_sender(client: httpx.AsyncClient, seeded: Seeded, run: Exchange) -> Post:
    """Send message `sequence` through the JSON API as its sender (bearer token: no CSRF token needed)."""

    async def send(sequence: int) -> int:
        pair, sender, _recipient = run.schedule[sequence]
        conversation_id = seeded.conversations[pair][0]
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"body": BODY, "client_id": client_id(sequence)},
            headers={"Authorization": f"Bearer {seeded.tokens[sender]}"},
        )
        if response.status_code != 201:
            raise RuntimeError(f"send answered {response.status_code}: {response.text[:200]}")
        message_id: int = response.json()["id"]
        run.sequence_of[message_id] = sequence
        return message_id

    return send


def floor_sender(client: httpx.AsyncClient, seeded: Seeded, run: Exchange) -> Post:
    async def send(sequence: int) -> int:
        message_id = sequence + 1
        conversation_id = seeded.conversations[run.schedule[sequence][0]][0]
        response = await client.post(
            "/emit", params={"number": message_id, "room": rooms.CONVERSATION(conversation_id)}
        )
        response.raise_for_status()
        run.sequence_of[message_id] = sequence
        return message_id

    return send


# --- one measurement -------------------------------------------------------------------------------------------


async def measure(
    name: str,
    url: str,
    server_pid: int,
    sender: Sender,
    seeded: Seeded,
    options: argparse.Namespace,
    var: Path,
) -> Exchange:
    run = Exchange(name=name, clients=options.clients, replies=options.messages, sends_unread=name != "floor")
    for pair, side in plan(len(seeded.conversations), options.messages):
        _conversation_id, first, second = seeded.conversations[pair]
        run.schedule.append((pair, second, first) if side else (pair, first, second))
    member_pair = {member: pair for pair, (_id, *members) in enumerate(seeded.conversations) for member in members}
    per_pair = Counter(pair for pair, _sender, _recipient in run.schedule)
    expect = [per_pair[member_pair[member]] for member in range(len(seeded.tokens))]
    followed = [
        rooms.CONVERSATION(seeded.conversations[member_pair[member]][0]) for member in range(len(seeded.tokens))
    ]
    workers = Workers(options.client_processes, var, name)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        send = sender(client, seeded, run)
        connect = workers.start(
            url,
            followed,
            seeded.tokens,
            expect,
            False,
            event="message.created",
            key="message_id",
            watch=["unread.changed"],
        )
        results, started = await drive(run, workers, connect, server_pid, send, options)
    run.lost_connections = sum(result["lost"] for result in results)
    tally(run, workers.token_order(results, "received"), workers.token_order(results, "counted"), started)
    for failure in run.failed_posts[:3]:
        print(f"{name}: a send failed: {failure}", file=sys.stderr)
    return run


def tally(run: Exchange, received: list[list[list[float]]], counted: list[list[int]], started: float) -> None:
    """Check every receipt against the schedule: the recipient once, the sender's own client once, nobody else."""
    delivered: Counter[int] = Counter()  # message id -> receipts by its recipient
    echoed: Counter[int] = Counter()
    last = started
    for member, receipts in enumerate(received):
        for raw_id, at in receipts:
            message_id = int(raw_id)
            sequence = run.sequence_of.get(message_id)
            if sequence is None or message_id not in run.posted:
                run.unexpected += 1
                continue
            _pair, sender, recipient = run.schedule[sequence]
            if member == sender:
                echoed[message_id] += 1
            elif member == recipient:
                delivered[message_id] += 1
                if delivered[message_id] == 1:
                    run.latencies.append(at - run.posted[message_id])
                    run.end_to_end.append(at - run.sent[message_id])
                    last = max(last, at)
            else:
                run.misdelivered += 1
    run.delivered = len(delivered)
    run.duplicated = sum(count - 1 for count in delivered.values())
    run.missing = len(run.posted) - run.delivered
    run.echoes = len(echoed)
    run.duplicated_echoes = sum(count - 1 for count in echoed.values())
    run.missing_echoes = len(run.posted) - run.echoes
    # One unread.changed per message of one's conversation, to each participant (the floor sends none).
    mine = Counter(member for sequence in run.sequence_of.values() for member in run.schedule[sequence][1:])
    run.unread_changed = sum(counts[0] for counts in counted)
    if run.sends_unread:
        run.unread_wrong_clients = sum(counts[0] != mine[member] for member, counts in enumerate(counted))
    run.window = last - started


async def bench(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="linli-messages-") as directory:
        var = Path(directory)
        async with database(options.database_url, var) as url:
            began = time.monotonic()
            seeded = await seed(url, options.clients)
            print(
                f"seeded {options.clients} members in {len(seeded.conversations)} conversations in "
                f"{time.monotonic() - began:.1f}s",
                file=sys.stderr,
            )
            runs: list[Exchange] = []
            if "floor" in options.only:
                floor_env = {"FANOUT_ENVELOPE": json.dumps(seeded.envelope), "FANOUT_KEY": "message_id"}
                command = [sys.executable, "-m", "bench.fanout_floor"]
                async with serving("floor", command, floor_env, var) as (floor_url, pid):
                    runs.append(await measure("floor", floor_url, pid, floor_sender, seeded, options, var))
            payload = 0
            if "linli" in options.only:
                await refresh_sessions(url)
                async with serving("linli", LINLI_COMMAND, linli_env(url, var), var) as (linli_url, pid):
                    runs.append(await measure("linli", linli_url, pid, linli_sender, seeded, options, var))
                payload = await linli_payload_bytes(url, "message.created")
    return common.make_report(options, runs, payload, seeded.envelope, RATIO_KEYS)


TABLE: list[common.Column] = [
    ("clients", 7, "", "clients"),
    ("sent", 5, "", "sent"),
    ("failed", 6, "", "failed_sends"),
    ("delivered", 9, "", "delivered"),
    ("missing", 7, "", "missing"),
    ("dup", 3, "", "duplicated"),
    ("wrong", 5, "", lambda row: row["misdelivered"] + row["unexpected"]),
    ("echoes", 6, "", "echoes"),
    ("unread", 6, "", "unread_changed"),
    ("p50", 6, ".1f", "p50_ms"),
    ("p99", 6, ".1f", "p99_ms"),
    ("max", 6, ".1f", "max_ms"),
    ("send p99", 8, ".1f", "send_p99_ms"),
    ("HTTP p50", 8, ".1f", "http_p50_ms"),
    ("HTTP p99", 8, ".1f", "http_p99_ms"),
    ("CPU ms/msg", 10, ".2f", "server_cpu_ms_per_message"),
]


def print_table(report: dict[str, Any]) -> None:
    note = "latency in ms from the sender's HTTP response to the other participant's receipt; 'send' from the request"
    common.print_table(report, "messages", note, TABLE)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.messages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="members, two per conversation (default 1000)")
    parser.add_argument("--messages", type=int, default=1500, help="messages in all (default 1500)")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second in all (default 50)")
    common.add_server_options(parser)
    common.add_run_options(parser, sending="sending")
    options = common.parse_options(parser, argv)
    if options.clients < 2 or options.clients % 2:
        parser.error("--clients must be an even number, at least 2")
    return options


if __name__ == "__main__":
    common.run_cli(parse, bench, print_table)
