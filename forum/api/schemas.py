"""Request and response models that several `forum/api/*_v1.py` modules use, and the pieces request models
are built from. A request model's limits are the action's own (its constants, imported), so /openapi.json says
what the actions accept; tests/test_api_limits.py holds every field to that."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import BaseModel, Field

from forum.validation import NUMBER_TEXT_MAX, USERNAME_MAX


def longest(choices: Iterable[str]) -> int:
    """The max_length of a field that takes one of `choices` (the action says which it takes)."""
    return max(len(choice) for choice in choices)


# A number as forms send it, as text: the JSON API takes either, and the action parses it and explains.
NumberText = Annotated[str, Field(max_length=NUMBER_TEXT_MAX)]
WholeNumber = int | NumberText
Amount = NumberText | int | float  # yuan: 12, 12.5 or "¥12.50"
Username = Annotated[str, Field(max_length=USERNAME_MAX)]


class PersonOut(BaseModel):
    id: int
    username: str
    display_name: str
    is_party_member: bool


class SwitchIn(BaseModel):
    """A yes/no setting (a badge, a board archived)."""

    value: bool
