"""Odd input over Socket.IO gets a clean answer, against a real server process: huge or missing arguments, packets
that are not Socket.IO at all (from sockets that never signed in too), too many sockets for one account, and a
flood of connects with a bad token. Every one is answered or closed, logged in one line at most, and the server
keeps serving."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import socketio
import websockets

from forum.db import Database
from tests.factories import make_community, make_member, make_thread, make_user
from tests.servers import Server, cookie_header, http_login, run_server
from tests.test_messages_live import Participant

pytestmark = pytest.mark.server


async def _reader(db: Database, server: Server, username: str) -> tuple[Participant, int]:
    community = await make_community(db)
    user = await make_user(db, username=username)
    await make_member(db, user=user, community=community)
    thread = await make_thread(db, author=user, community=community)
    reader = Participant()
    await reader.connect(server, username)
    return reader, thread.id or 0


async def test_subscribe_with_huge_or_missing_arguments_is_a_bad_request_and_joins_nothing(
    server: Server, db: Database
) -> None:
    reader, thread_id = await _reader(db, server, "odd_args")
    room = f"thread:{thread_id}"
    try:
        for after in (2**63, 10**30, -1, 2**31, 1.5, "5", True, None):
            answer = await reader.client.call("subscribe", {"room": room, "after": after}, timeout=5)
            assert answer == {"ok": False, "error": "bad_request"}, after
        assert await reader.client.call("subscribe", timeout=5) == {"ok": False, "error": "bad_request"}
        assert await reader.client.call("subscribe", "thread", timeout=5) == {"ok": False, "error": "bad_request"}
        assert await reader.client.call("unsubscribe", timeout=5) == {"ok": False, "error": "bad_request"}
        assert await reader.client.call("unsubscribe", {"room": 5}, timeout=5) == {"ok": False, "error": "bad_request"}
        # None of those joined the room; a good subscribe still works on the same connection.
        assert await reader.subscribe(room, 0) == {"ok": True}
        assert reader.client.connected
    finally:
        await reader.close()
    log = server.output()
    assert "Traceback" not in log and "OverflowError" not in log and "DataError" not in log, log


async def test_packets_that_are_not_socketio_close_that_socket_with_one_line_in_the_log(
    server: Server, db: Database
) -> None:
    garbage = ["garbage", "40{bad", "42[", "4" + "[" * 100_000, b"\xff\x00", "9xyz", '421["subscribe",{]']
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    for payload in garbage:
        async with websockets.connect(url, max_size=None) as raw:  # never signed in
            await raw.recv()  # the Engine.IO open packet
            await raw.send(payload)
            try:
                while True:  # answered (an error packet) or closed; either way it does not hang
                    await asyncio.wait_for(raw.recv(), 5)
            except websockets.ConnectionClosed:
                pass
            except TimeoutError:
                pass
    reader, thread_id = await _reader(db, server, "after_garbage")  # the server still serves
    try:
        assert await reader.subscribe(f"thread:{thread_id}", 0) == {"ok": True}
    finally:
        await reader.close()
    log = server.output()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


async def _connect(url: str, **kwargs: Any) -> tuple[socketio.AsyncClient | None, str]:
    """A connected client, or None and the reason the server gave for refusing it."""
    client = socketio.AsyncClient(reconnection=False)
    said: list[Any] = []
    client.on("connect_error", said.append)
    try:
        await client.connect(url, transports=["websocket"], wait_timeout=5, **kwargs)
    except socketio.exceptions.ConnectionError:
        return None, said[0]["message"] if said and isinstance(said[0], dict) else repr(said)
    return client, ""


async def test_one_account_opens_at_most_its_allowance_of_sockets(db: Database, db_url: str, tmp_path: Path) -> None:
    await make_user(db, username="many_tabs")
    with run_server(db_url=db_url, var_dir=tmp_path, settings={"SOCKETS_PER_ACCOUNT": "3"}) as server:
        http = await http_login(server.url, "many_tabs")
        headers = {"Cookie": cookie_header(http)}
        await http.aclose()
        opened = []
        try:
            for _ in range(3):
                client, refusal = await _connect(server.url, headers=dict(headers))
                assert client is not None, refusal
                opened.append(client)
            assert await _connect(server.url, headers=dict(headers)) == (None, "too_many_connections")
            closing = opened.pop()
            gone = asyncio.Event()
            closing.on("disconnect", lambda *_args: gone.set())
            await closing.disconnect()
            await gone.wait()
            for _ in range(50):  # the server takes the closed tab out a moment after the client has gone
                client, refusal = await _connect(server.url, headers=dict(headers))
                if client is not None:
                    break
                assert refusal == "too_many_connections"
                await asyncio.sleep(0.1)
            assert client is not None, "a closed tab's place was never given back"
            opened.append(client)
        finally:
            for client in opened:
                await client.disconnect()


async def test_connects_with_a_bad_token_are_throttled_per_address(db: Database, db_url: str, tmp_path: Path) -> None:
    await make_user(db, username="right_token")
    with run_server(db_url=db_url, var_dir=tmp_path, settings={"SOCKET_FAILED_CONNECTS_PER_MINUTE": "5"}) as server:
        refusals = [(await _connect(server.url, auth={"token": f"wrong-{n}"}))[1] for n in range(8)]
        assert refusals == ["not_authenticated"] * 5 + ["rate_limited"] * 3
        # The throttle answers before the database is asked, so it holds back only what the database would have
        # to judge (an API client's token): a signed login cookie from that address still connects, so one broken
        # client behind a shared address does not shut its neighbours out.
        http = await http_login(server.url, "right_token")
        client, refusal = await _connect(server.url, headers={"Cookie": cookie_header(http)})
        await http.aclose()
        assert client is not None, refusal
        await client.disconnect()
