"""The JSON API's account routes: registering, signing in and out (bearer tokens), one's own profile,
password and sessions, and other people's profiles."""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_request, validate_response

from forum.actions import accounts
from forum.actions import sessions as session_actions
from forum.actions.accounts import DISPLAY_NAME_MAX
from forum.api.schemas import PersonOut, longest
from forum.api.v1 import blueprint
from forum.config import LOCALES
from forum.errors import NotFound
from forum.models import SessionKind, User, id_of
from forum.queries.accounts import list_sessions
from forum.queries.communities import profile
from forum.queries.people import viewer_person
from forum.validation import PASSWORD_MAX, USERNAME_MAX
from forum.web import csrf
from forum.web.context import commit, current_auth_session, db_session, require_user
from forum.web.ratelimits import LOGIN_LIMITS, PASSWORD_LIMITS, REGISTER_LIMITS
from forum.web.signin import sign_in


class RegisterIn(BaseModel):
    username: str = Field(max_length=USERNAME_MAX)
    password: str = Field(max_length=PASSWORD_MAX)
    display_name: str = Field(max_length=DISPLAY_NAME_MAX)
    locale: str | None = Field(default=None, max_length=longest(LOCALES))


class CredentialsIn(BaseModel):
    username: str = Field(max_length=USERNAME_MAX)
    password: str = Field(max_length=PASSWORD_MAX)


class TokenOut(BaseModel):
    token: str
    expires_at: str


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    locale: str | None
    is_party_member: bool


class MeIn(BaseModel):
    display_name: str = Field(max_length=DISPLAY_NAME_MAX)
    locale: str | None = Field(default=None, max_length=longest(LOCALES))


class CsrfOut(BaseModel):
    csrf_token: str


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=PASSWORD_MAX)
    new_password: str = Field(max_length=PASSWORD_MAX)


class SessionOut(BaseModel):
    id: int
    kind: str
    user_agent: str
    ip: str
    created_at: str
    last_seen_at: str
    current: bool


class SessionListOut(BaseModel):
    sessions: list[SessionOut]


class ProfileOut(BaseModel):
    person: PersonOut
    communities: list[str]


async def _me(user: User) -> MeOut:
    person = await viewer_person(db_session(), user)
    return MeOut(**person.payload(), locale=user.locale)


# --- authentication -----------------------------------------------------------------------------------------


@blueprint.get("/csrf")
@tag(["auth"])
@validate_response(CsrfOut)
async def get_csrf() -> CsrfOut:
    """The token to send as `X-CSRF-Token` on writes authenticated by the login cookie."""
    return CsrfOut(csrf_token=csrf.csrf_token())


@blueprint.post("/auth/register")
@tag(["auth"])
@rate_limit(limits=REGISTER_LIMITS)
@validate_request(RegisterIn)
@validate_response(MeOut, 201)
async def register(data: RegisterIn) -> tuple[MeOut, int]:
    user = await accounts.register_user(
        db_session(),
        username=data.username,
        password=data.password,
        display_name=data.display_name,
        locale=data.locale,
    )
    await commit()
    return await _me(user), 201


@blueprint.post("/auth/tokens")
@tag(["auth"])
@rate_limit(limits=LOGIN_LIMITS)
@validate_request(CredentialsIn)
@validate_response(TokenOut, 201)
async def create_token(data: CredentialsIn) -> tuple[TokenOut, int]:
    """Sign in and get a bearer token for `Authorization: Bearer <token>`."""
    user = await accounts.authenticate(db_session(), username=data.username, password=data.password)
    auth_session, token = await sign_in(user, kind=SessionKind.API)
    return TokenOut(token=token, expires_at=auth_session.expires_at.isoformat()), 201


@blueprint.delete("/auth/tokens/current")
@tag(["auth"])
async def revoke_current() -> tuple[str, int]:
    """Sign this token (or cookie session) out."""
    require_user()
    auth_session = current_auth_session()
    if auth_session is not None:
        await session_actions.end_session(db_session(), auth_session=auth_session)
        await commit()
    return "", 204


@blueprint.post("/auth/logout-everywhere")
@tag(["auth"])
async def logout_everywhere() -> tuple[str, int]:
    await session_actions.end_all_sessions(db_session(), user=require_user())
    await commit()
    return "", 204


# --- me -----------------------------------------------------------------------------------------------------


@blueprint.get("/me")
@tag(["me"])
@validate_response(MeOut)
async def get_me() -> MeOut:
    return await _me(require_user())


@blueprint.patch("/me")
@tag(["me"])
@validate_request(MeIn)
@validate_response(MeOut)
async def update_me(data: MeIn) -> MeOut:
    user = await accounts.update_profile(
        db_session(), user=require_user(), display_name=data.display_name, locale=data.locale
    )
    await commit()
    return await _me(user)


@blueprint.post("/me/password")
@tag(["me"])
@rate_limit(limits=PASSWORD_LIMITS)
@validate_request(PasswordIn)
async def change_password(data: PasswordIn) -> tuple[str, int]:
    """Change the password; every other session of this user ends."""
    auth_session = current_auth_session()
    await accounts.change_password(
        db_session(),
        user=require_user(),
        current_password=data.current_password,
        new_password=data.new_password,
        keep_session_id=auth_session.id if auth_session else None,
    )
    await commit()
    return "", 204


@blueprint.get("/me/sessions")
@tag(["me"])
@validate_response(SessionListOut)
async def get_sessions() -> SessionListOut:
    """Where this user is signed in (browsers and API tokens)."""
    current = current_auth_session()
    return SessionListOut(
        sessions=[
            SessionOut(
                id=id_of(item),
                kind=item.kind,
                user_agent=item.user_agent,
                ip=item.ip,
                created_at=item.created_at.isoformat(),
                last_seen_at=item.last_seen_at.isoformat(),
                current=current is not None and item.id == current.id,
            )
            for item in await list_sessions(db_session(), user=require_user())
        ]
    )


@blueprint.delete("/me/sessions/<id:session_id>")
@tag(["me"])
async def end_session(session_id: int) -> tuple[str, int]:
    ended = await session_actions.end_session_of_user(db_session(), user=require_user(), session_id=session_id)
    if not ended:
        raise NotFound()
    await commit()
    return "", 204


@blueprint.get("/users/<username>")
@tag(["people"])
@validate_response(ProfileOut)
async def get_user(username: str) -> ProfileOut:
    found = await profile(db_session(), viewer=require_user(), username=username)
    if found is None:
        raise NotFound()
    return ProfileOut(
        person=PersonOut(**found.person.payload()),
        communities=[item.community.slug for item in found.communities],
    )
