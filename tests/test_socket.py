"""Socket.IO against a real server process with python-socketio's client: authentication and personal rooms."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import socketio

from forum import rooms
from forum.db import Database
from forum.events import Ready
from tests.event_schemas import check_signal
from tests.factories import make_user
from tests.servers import Server, cookie_header, http_login, http_post_form, run_server
from tests.services import REDIS_URL, require_service, unique_channel

pytestmark = pytest.mark.server


async def _connect(url: str, **kwargs: Any) -> tuple[socketio.AsyncClient, asyncio.Queue[dict[str, Any]]]:
    client = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @client.on("ready")
    async def on_ready(data: dict[str, Any]) -> None:
        await received.put(data)  # the test checks it against the registry once it has it

    await client.connect(url, transports=["websocket"], wait_timeout=5, **kwargs)
    return client, received


async def test_a_connection_without_a_session_is_refused(server: Server) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(server.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(server.url, headers={"Cookie": "linli_session=forged.value.here"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(server.url, auth={"token": "made-up"})


async def test_a_signed_in_browser_connects_into_its_personal_room(server: Server, db: Database) -> None:
    user = await make_user(db, username="socket_user", display_name="在线邻居")
    http = await http_login(server.url, "socket_user")
    client, received = await _connect(server.url, headers={"Cookie": cookie_header(http)})
    try:
        greeting = await asyncio.wait_for(received.get(), 5)
        check_signal("ready", greeting)
        ready = Ready.model_validate(greeting)
        assert ready.user_id == user.id and ready.display_name == "在线邻居"
    finally:
        await client.disconnect()

    # After logout the same cookie no longer opens a connection: the session row is gone.
    cookie = cookie_header(http)
    assert (await http_post_form(http, "/logout")).status_code == 302
    await http.aclose()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await _connect(server.url, headers={"Cookie": cookie})


async def test_an_api_client_connects_with_its_bearer_token(server: Server, db: Database) -> None:
    import httpx

    user = await make_user(db, username="socket_api")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/v1/auth/tokens", json={"username": "socket_api", "password": "correct horse battery"}
        )
        token = response.json()["token"]
    client, received = await _connect(server.url, auth={"token": token})
    try:
        assert (await asyncio.wait_for(received.get(), 5))["user_id"] == user.id
    finally:
        await client.disconnect()


async def test_with_redis_a_message_published_elsewhere_reaches_the_personal_room(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    user = await make_user(db, username="redis_user", display_name="跨进程")
    with run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel) as server:
        http = await http_login(server.url, "redis_user")
        client, received = await _connect(server.url, headers={"Cookie": cookie_header(http)})
        await http.aclose()
        try:
            await asyncio.wait_for(received.get(), 5)  # the server's own greeting
            # Another process (here: this test) publishes through Redis only; the server relays it to the room.
            publisher = socketio.AsyncRedisManager(REDIS_URL, channel=channel, write_only=True)
            assert user.id is not None
            payload = Ready(user_id=user.id, display_name="来自另一个进程", unread=0, notifications=0).model_dump()
            try:
                await publisher.emit("ready", payload, room=rooms.USER(user.id), namespace="/")
            finally:
                await publisher.pubsub.aclose()
                await publisher.redis.aclose()
            relayed = await asyncio.wait_for(received.get(), 5)
            assert relayed["display_name"] == "来自另一个进程"
        finally:
            await client.disconnect()


async def test_logging_out_everywhere_disconnects_open_sockets(server: Server, db: Database) -> None:
    await make_user(db, username="leaving")
    phone = await http_login(server.url, "leaving")
    laptop = await http_login(server.url, "leaving")
    client, received = await _connect(server.url, headers={"Cookie": cookie_header(laptop)})
    await asyncio.wait_for(received.get(), 5)
    disconnected = asyncio.Event()
    client.on("disconnect", lambda *args: disconnected.set())
    assert (await http_post_form(phone, "/settings/sessions/end-all")).status_code == 302
    await asyncio.wait_for(disconnected.wait(), 5)
    assert not client.connected
    await phone.aclose()
    await laptop.aclose()


async def test_with_two_processes_on_redis_a_logout_through_one_disconnects_sockets_on_the_other(
    db_url: str, tmp_path: Path, db: Database
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    channel = unique_channel()
    await make_user(db, username="two_servers")
    with (
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="a") as first,
        run_server(db_url=db_url, var_dir=tmp_path, redis_url=REDIS_URL, channel=channel, name="b") as second,
    ):
        browser = await http_login(first.url, "two_servers")
        client, received = await _connect(second.url, headers={"Cookie": cookie_header(browser)})
        await asyncio.wait_for(received.get(), 5)
        disconnected = asyncio.Event()
        client.on("disconnect", lambda *args: disconnected.set())
        assert (await http_post_form(browser, "/logout")).status_code == 302
        await asyncio.wait_for(disconnected.wait(), 5)
        await browser.aclose()
