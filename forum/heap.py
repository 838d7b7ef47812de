"""Garbage-collector settings for a serving process, applied once start-up is complete.

A Socket.IO fan-out allocates a task and a few objects per recipient. With CPython's default thresholds
(700, 10, 10) a young collection runs every 700 allocations, catches those objects while they are still queued,
and promotes them; enough promotions trigger a full collection, which walks every object in the process
(thousands of sockets, the app, jieba's dictionary). At 5,000 readers that was most of the server's time
(docs/performance.md, "Fan-out"). So:

- freeze what start-up loaded: it lives as long as the process, and full collections skip frozen objects;
- collect the young generation every 50,000 allocations instead of 700, so that most per-recipient objects
  are freed by reference counting before a collection ever sees them; and scan older generations less often.
  Cyclic garbage waits longer before it is freed, for a large cut in CPU per event;
- except what sockets leave behind when they close: a closed connection's objects are cyclic garbage of about
  60 KB, which with these thresholds waited for good (3,000 sockets connecting and leaving grew a process by
  60-80 MB every time, bench/memory.py). So a full collection runs, off the handler that saw it, after every
  DEPARTURES_PER_COLLECTION sockets have gone (`Departures`).
"""

from __future__ import annotations

import asyncio
import gc

THRESHOLDS = (50_000, 20, 100)


def settle() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


class Departures:
    """Counts sockets that closed; after every `every` of them, a full collection (soon, on the event loop)."""

    DEPARTURES_PER_COLLECTION = 1000

    def __init__(self, every: int = DEPARTURES_PER_COLLECTION) -> None:
        self.every = every
        self.count = 0

    def note(self) -> None:
        self.count += 1
        if self.count >= self.every:
            self.count = 0
            asyncio.get_running_loop().call_soon(gc.collect)
