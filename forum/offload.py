"""CPU-bound text work (Markdown, jieba) run where it costs least.

A trip to a worker thread costs two thread wake-ups and, while the event loop is busy (a Socket.IO fan-out),
a wait of up to the interpreter's switch interval (5 ms) for the GIL: more than rendering or segmenting a
short post takes. A long post, though, must not stall every socket of the process (a hostile
10,000-character post takes about 0.3 s to render). So short text is worked on the loop, long text in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

# Ordinary text: jieba segments about 3 µs a character and Markdown renders about 0.6, so 0.7 ms at this
# length. Text built to be slow (nested brackets) takes about 28 µs a character for both: 6 ms, once per post,
# behind the write rate limits.
INLINE_CHARS = 200

P = ParamSpec("P")
R = TypeVar("R")


async def text_work(chars: int, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`function(*args, **kwargs)`, on the event loop if the text is at most INLINE_CHARS long, else in a thread."""
    if chars <= INLINE_CHARS:
        return function(*args, **kwargs)
    return await asyncio.to_thread(function, *args, **kwargs)
