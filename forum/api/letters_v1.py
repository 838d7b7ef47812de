"""JSON API for thank-you letters: the same actions and access checks as the pages."""

from __future__ import annotations

from pydantic import BaseModel, Field
from quart_rate_limiter import rate_limit
from quart_schema import tag, validate_querystring, validate_request, validate_response
from quart_schema.pydantic import File

from forum import rooms
from forum.access import access_community, access_community_content, access_letter
from forum.actions import letters
from forum.api.bodies import validate_json_or_multipart
from forum.api.forum_v1 import ImageOut, images_out
from forum.api.schemas import PersonOut
from forum.api.v1 import blueprint
from forum.markup import MAX_BODY_CHARS
from forum.models import id_of
from forum.paths import letter_image_path, letter_path
from forum.permissions import can_moderate
from forum.queries.letters import LetterView, letter_view, thanks_wall
from forum.queries.messages import NAMES_TEXT_MAX
from forum.queries.threads import latest_event_id
from forum.validation import MAX_ID
from forum.web.context import commit, db_session, require_user
from forum.web.ratelimits import LETTER_LIMITS, LIKE_LIMITS
from forum.web.uploads import uploaded_images


class LetterOut(BaseModel):
    id: int
    community_id: int
    title: str
    body_html: str  # sanitised HTML, safe to insert as is
    author: PersonOut | None  # None: the writer's account is gone
    recipients: list[PersonOut]
    group_name: str  # empty: addressed to the recipients by name
    images: list[ImageOut]
    like_count: int
    liked: bool  # by you
    featured: bool  # shown on the community page
    hidden_by_you: bool  # you are a recipient and took it off your profile
    created_at: str
    url: str


class LetterListOut(BaseModel):
    letters: list[LetterOut]  # newest first
    earlier: int | None  # pass as `before` for older ones
    room: str  # subscribe after `last_event_id` for letters as they are written
    last_event_id: int


class LetterQuery(BaseModel):
    before: int | None = Field(default=None, ge=1, le=MAX_ID)


class LetterIn(BaseModel):
    usernames: str = Field(max_length=NAMES_TEXT_MAX)  # one or more, separated by spaces or commas
    group_name: str = Field(default="", max_length=letters.GROUP_NAME_MAX)  # needed for several people
    title: str = Field(max_length=letters.TITLE_MAX)
    body: str = Field(max_length=MAX_BODY_CHARS)


class LetterWithImagesIn(LetterIn):
    """multipart/form-data: the text fields, and up to three files in `images`, re-encoded as for posts."""

    images: list[File] = []


class LikeIn(BaseModel):
    liked: bool


class FeatureIn(BaseModel):
    featured: bool


class HideIn(BaseModel):
    hidden: bool


def _letter_out(view: LetterView, viewer_id: int) -> LetterOut:
    letter = view.letter
    return LetterOut(
        id=id_of(letter),
        community_id=letter.community_id,
        title=letter.title,
        body_html=letter.body_html,
        author=PersonOut(**view.author.payload()) if view.author else None,
        recipients=[PersonOut(**person.payload()) for person in view.recipients],
        group_name=letter.group_name,
        images=images_out(view.pictures, letter_image_path),
        like_count=letter.like_count,
        liked=view.liked,
        featured=letter.featured_at is not None,
        hidden_by_you=viewer_id in view.hidden_by,
        created_at=letter.created_at.isoformat(),
        url=letter_path(id_of(letter)),
    )


@blueprint.get("/communities/<slug>/letters")
@tag(["letters"])
@validate_querystring(LetterQuery)
@validate_response(LetterListOut)
async def list_letters(slug: str, query_args: LetterQuery) -> LetterListOut:
    """The community's thanks wall, newest first, twenty at a time."""
    user = require_user()
    community, standing = await access_community_content(db_session(), user, slug)
    last_event_id = await latest_event_id(db_session())
    page = await thanks_wall(db_session(), community, user, moderator=can_moderate(standing), before=query_args.before)
    return LetterListOut(
        letters=[_letter_out(view, id_of(user)) for view in page.letters],
        earlier=page.earlier,
        room=rooms.LETTERS(id_of(community)),
        last_event_id=last_event_id,
    )


@blueprint.post("/communities/<slug>/letters")
@tag(["letters"])
@rate_limit(limits=LETTER_LIMITS)
@validate_json_or_multipart(LetterIn, LetterWithImagesIn)
@validate_response(LetterOut, 201)
async def write_letter(slug: str, data: LetterIn) -> tuple[LetterOut, int]:
    """Publish a thank-you letter: JSON, or multipart/form-data with up to three photos in `images`."""
    user = require_user()
    community, standing = await access_community(db_session(), user, slug)
    letter = await letters.write_letter(
        db_session(),
        actor=user,
        community=community,
        standing=standing,
        usernames=data.usernames,
        title=data.title,
        body=data.body,
        group_name=data.group_name,
        images=await uploaded_images(most=letters.MAX_IMAGES, too_many=letters.TOO_MANY_FOR_LETTER),
    )
    await commit()
    return _letter_out(await letter_view(db_session(), letter, user), id_of(user)), 201


@blueprint.get("/letters/<id:letter_id>")
@tag(["letters"])
@validate_response(LetterOut)
async def get_letter(letter_id: int) -> LetterOut:
    user = require_user()
    letter, _community, _standing = await access_letter(db_session(), user, letter_id)
    return _letter_out(await letter_view(db_session(), letter, user), id_of(user))


@blueprint.post("/letters/<id:letter_id>/like")
@tag(["letters"])
@rate_limit(limits=LIKE_LIMITS)
@validate_request(LikeIn)
@validate_response(LetterOut)
async def like_letter(letter_id: int, data: LikeIn) -> LetterOut:
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    await letters.set_like(db_session(), actor=user, letter=letter, standing=standing, liked=data.liked)
    await commit()
    await db_session().refresh(letter)
    return _letter_out(await letter_view(db_session(), letter, user), id_of(user))


@blueprint.post("/letters/<id:letter_id>/feature")
@tag(["letters"])
@validate_request(FeatureIn)
@validate_response(LetterOut)
async def feature_letter(letter_id: int, data: FeatureIn) -> LetterOut:
    """Secretaries: show the letter on the community page, or stop."""
    user = require_user()
    letter, _community, standing = await access_letter(db_session(), user, letter_id)
    await letters.set_featured(db_session(), actor=user, letter=letter, standing=standing, featured=data.featured)
    await commit()
    return _letter_out(await letter_view(db_session(), letter, user), id_of(user))


@blueprint.post("/letters/<id:letter_id>/hide")
@tag(["letters"])
@validate_request(HideIn)
@validate_response(LetterOut)
async def hide_letter(letter_id: int, data: HideIn) -> LetterOut:
    """Recipients: take the letter off your profile, or put it back. It stays on the thanks wall."""
    user = require_user()
    letter, _community, _standing = await access_letter(db_session(), user, letter_id)
    await letters.set_hidden(db_session(), actor=user, letter=letter, hidden=data.hidden)
    await commit()
    return _letter_out(await letter_view(db_session(), letter, user), id_of(user))
