"""Accounts: registration, authentication, profile and password changes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from forum.actions import sessions as session_actions
from forum.errors import field_error
from forum.i18n import N_
from forum.models import User
from forum.passwords import hash_password, needs_rehash, verify_password
from forum.validation import FieldErrors, clean_locale, clean_password, clean_text, clean_username

DISPLAY_NAME_MAX = 40


async def register_user(
    session: AsyncSession,
    *,
    username: object,
    password: object,
    display_name: object,
    locale: object = None,
) -> User:
    errors = FieldErrors()
    clean_name = errors.check(clean_username, username)
    clean_pw = errors.check(clean_password, password)
    clean_display = errors.check(clean_text, display_name, "display_name", max_length=DISPLAY_NAME_MAX)
    clean_loc = errors.check(clean_locale, locale)
    errors.raise_if_any()
    assert clean_name is not None and clean_pw is not None and clean_display is not None  # noqa: S101 -- narrowed by raise_if_any

    if await find_user_by_username(session, clean_name) is not None:
        raise field_error("username", N_("That username is taken."), status=409)
    user = User(
        username=clean_name,
        display_name=clean_display,
        password_hash=await hash_password(clean_pw),
        locale=clean_loc,
    )
    session.add(user)
    await session.flush()
    return user


async def find_user_by_username(session: AsyncSession, username: str) -> User | None:
    result = await session.execute(select(User).where(col(User.username) == username.strip().lower()))
    return result.scalar_one_or_none()


async def authenticate(session: AsyncSession, *, username: object, password: object) -> User:
    """Return the user whose credentials these are, or raise one message that does not say which part was wrong."""
    user = None
    if isinstance(username, str) and username.strip():
        user = await find_user_by_username(session, username)
    password_text = password if isinstance(password, str) else ""
    ok = await verify_password(user.password_hash if user else None, password_text)
    if user is None or not ok or not user.is_active:
        raise field_error("password", N_("Wrong username or password."), status=401)
    if needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password_text)
        await session.flush()
    return user


async def update_profile(session: AsyncSession, *, user: User, display_name: object, locale: object) -> User:
    errors = FieldErrors()
    clean_display = errors.check(clean_text, display_name, "display_name", max_length=DISPLAY_NAME_MAX)
    clean_loc = errors.check(clean_locale, locale)
    errors.raise_if_any()
    assert clean_display is not None  # noqa: S101 -- narrowed by raise_if_any
    user.display_name = clean_display
    user.locale = clean_loc
    await session.flush()
    return user


async def change_password(
    session: AsyncSession,
    *,
    user: User,
    current_password: object,
    new_password: object,
    keep_session_id: int | None,
) -> None:
    """Change the password and end every other session of the user (a stolen session dies with the old password)."""
    errors = FieldErrors()
    current = current_password if isinstance(current_password, str) else ""
    if not await verify_password(user.password_hash, current):
        errors.add("current_password", N_("The current password is wrong."), status=403)
    clean_new = errors.check(clean_password, new_password, "new_password")
    errors.raise_if_any()
    assert clean_new is not None  # noqa: S101 -- narrowed by raise_if_any
    user.password_hash = await hash_password(clean_new)
    await session_actions.end_all_sessions(session, user=user, except_id=keep_session_id)
    await session.flush()


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())
