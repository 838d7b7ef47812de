"""Request and response models that several `forum/api/*_v1.py` modules use."""

from __future__ import annotations

from pydantic import BaseModel


class PersonOut(BaseModel):
    id: int
    username: str
    display_name: str
    is_party_member: bool


class SwitchIn(BaseModel):
    """A yes/no setting (a badge, a board archived)."""

    value: bool
