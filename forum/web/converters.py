"""URL converters. Ids are 32-bit in PostgreSQL: a larger number cannot name anything, so it is a 404, not a
database error."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map


class IdConverter(IntegerConverter):
    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)
