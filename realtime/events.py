"""The one registry of events the server sends. Each event is a typed model with a literal `type`, and names
the room it goes to. docs/realtime.md is checked against this registry by the tests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ready(Event):
    """Sent to a client right after it connects: who the server thinks it is."""

    type: Literal["ready"] = "ready"
    user_id: int
    display_name: str


# name -> (model, room pattern, description)
REGISTRY: dict[str, tuple[type[Event], str, str]] = {
    "ready": (
        Ready,
        "the connecting client only",
        "Connection accepted; the client is in its personal room.",
    ),
}


class SessionsEnded(Event):
    """Internal, never sent to clients: these login sessions ended (logout, password change), so every process
    disconnects the sockets that authenticated with them."""

    type: Literal["sessions.ended"] = "sessions.ended"
    session_ids: list[int]


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(session_id: int) -> str:
    """Every socket of one login session, so that ending the session can disconnect them."""
    return f"session:{session_id}"
