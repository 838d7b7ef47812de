"""Every event a test made, checked against the one registry of events.

`tests/conftest.py` checks each stored event (the `event` table) after every test that used a database, and the
socket clients of the tests check the signals that are never stored (`ready`, `typing`, `presence`, `revoked`).
Both note the types they saw; at the end of a whole run the registry's types that no test produced fail it, so a
new event type comes with a test that makes it."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

# The one place that knows where the registry lives.
from forum.events import REGISTRY

seen: set[str] = set()  # the registered types this process has checked, stored or sent


def registry() -> dict[str, type[BaseModel]]:
    """type -> its model (`forum.events.Event`: `to` names its rooms)."""
    return dict(REGISTRY)


def room_prefixes(model: type[BaseModel]) -> tuple[str, ...]:
    """The room kinds a registered model names: SaleChanged -> ("sale:", "market:"); none for a signal sent to
    one client ("the connecting client only")."""
    return tuple(f"{kind.name}:" for kind, _field in getattr(model, "to", ()))


def problems(kind: str, room: str | None, data: Any) -> list[str]:
    """What is wrong with one event of type `kind` for `room` (None: a signal sent to one socket, not stored),
    carrying `data`; nothing if it matches the registry. A registered type counts as seen either way."""
    entry = registry().get(kind)
    if entry is None:
        return [f"{kind!r} is not in the registry (room {room!r})"]
    seen.add(kind)
    model = entry
    found: list[str] = []
    try:
        model.model_validate(data)
    except ValidationError as error:
        found.append(f"{kind} in {room!r} does not match {model.__name__}: {error}")
    if isinstance(data, dict) and data.get("type") != kind:
        found.append(f"{kind} in {room!r} carries type {data.get('type')!r}")
    if room is not None:
        prefixes = room_prefixes(model)
        if not any(re.fullmatch(re.escape(prefix) + r"[1-9][0-9]*", room) for prefix in prefixes):
            found.append(f"{kind} stored for room {room!r}; the registry says {prefixes}")
    return found


def check_stored(rows: list[tuple[str, str, str]]) -> None:
    """Rows of (type, room, payload JSON) from the event table; raises AssertionError naming every mismatch."""
    found = [problem for kind, room, payload in rows for problem in problems(kind, room, json.loads(payload))]
    assert not found, "events that do not match forum.events.REGISTRY:\n" + "\n".join(found)


def check_signal(kind: str, data: Any) -> None:
    """A signal a test's socket received (never stored): it must match its registered model too."""
    found = problems(kind, None, data)
    assert not found, "\n".join(found)
