"""Pictures in posts: checked, stripped of metadata, stored with the post or not at all, served to readers only."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from quart import Quart
from sqlalchemy import func, select
from sqlmodel import col

from forum.db import Database
from forum.events import PostCreated
from forum.images import THUMB_MAX_PX, ImageRejected, prepare_image
from forum.models import Event, Post, PostImage, Role, Thread
from tests.factories import PASSWORD, make_community, make_member, make_pending, make_thread, make_user
from tests.helpers import login, multipart, post_form, post_multipart, text

GPS_IFD = 0x8825
ORIENTATION = 0x0112
ROTATE_90_CW = 6  # the sensor's picture is stored lying on its side; viewers turn it upright


def photo_with_gps(size: tuple[int, int] = (600, 300)) -> bytes:
    """A phone photo: GPS position, camera make, an orientation tag and a JPEG comment."""
    exif = Image.Exif()
    exif[ORIENTATION] = ROTATE_90_CW
    exif[0x010F] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (31.0, 24.0, 12.5), 3: "E", 4: (121.0, 29.0, 30.0)}
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 30)).save(out, format="JPEG", exif=exif.tobytes(), comment=b"at home")
    raw = out.getvalue()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD), "the test photo must carry a GPS position"
    return raw


def png(size: tuple[int, int] = (120, 80), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny file whose header promises a huge bitmap: a decompression bomb as far as the header goes."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def stored_files(var_dir: Path) -> list[Path]:
    return [path for path in (var_dir / "uploads").rglob("*") if path.is_file()]


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.read_only() as session:
        return (
            (await session.execute(select(func.count()).select_from(Thread))).scalar_one(),
            (await session.execute(select(func.count()).select_from(Post))).scalar_one(),
            (await session.execute(select(func.count()).select_from(PostImage))).scalar_one(),
        )


async def _member_in_thread(db: Database, username: str) -> Thread:
    community = await make_community(db)
    member = await make_user(db, username=username)
    await make_member(db, user=member, community=community)
    return await make_thread(db, author=member, community=community)


# --- the pipeline itself ---------------------------------------------------------------------------------------


def test_a_photo_loses_its_exif_and_gps_position_and_is_turned_upright() -> None:
    prepared = prepare_image(photo_with_gps((600, 300)))

    for data in (prepared.data, prepared.thumb):
        reopened = Image.open(io.BytesIO(data))
        assert reopened.format == "JPEG"
        assert dict(reopened.getexif()) == {}
        assert "exif" not in reopened.info and "comment" not in reopened.info and "icc_profile" not in reopened.info
    assert b"PhoneMaker" not in prepared.data and b"at home" not in prepared.data
    # Stored 600 × 300 with "rotate 90°": the picture people see is 300 wide and 600 high.
    assert (prepared.width, prepared.height) == (300, 600)
    assert prepared.content_type == "image/jpeg"


def test_thumbnails_fit_the_box_and_keep_the_proportions() -> None:
    wide = prepare_image(png((1200, 300)))
    assert (wide.thumb_width, wide.thumb_height) == (THUMB_MAX_PX, 100)
    assert Image.open(io.BytesIO(wide.thumb)).size == (THUMB_MAX_PX, 100)
    small = prepare_image(png((120, 80)))
    assert (small.width, small.height, small.thumb_width, small.thumb_height) == (120, 80, 120, 80)


def test_huge_photos_are_scaled_down_and_transparent_pictures_stay_png() -> None:
    big = prepare_image(png((5000, 2500)))
    assert (big.width, big.height) == (2048, 1024)
    clear = prepare_image(png((50, 50), mode="RGBA"))
    assert clear.content_type == "image/png"
    assert Image.open(io.BytesIO(clear.data)).mode == "RGBA"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"just some text, renamed to photo.jpg\n", "is not a JPEG, PNG, GIF or WebP picture"),
        (b"", "is not a JPEG, PNG, GIF or WebP picture"),
        (photo_with_gps((800, 600))[:-200], "could not be read"),
        (png_header_only(30_000, 30_000), "too many pixels"),
        (png_header_only(8_000, 8_000), "too many pixels"),
    ],
    ids=["text", "empty", "truncated", "bomb", "too-many-pixels"],
)
def test_what_is_not_a_usable_picture_is_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected) as refused:
        prepare_image(raw)
    assert reason in refused.value.message


def test_bitmap_and_other_formats_are_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="BMP")
    with pytest.raises(ImageRejected):
        prepare_image(out.getvalue())


# --- posting through the pages ---------------------------------------------------------------------------------


async def test_a_thread_with_a_photo_stores_it_without_gps_and_shows_a_thumbnail(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username="img_author"), community=community)
    client = app.test_client()
    await login(client, "img_author")
    board = f"/c/{community.slug}/b/talk"

    response = await post_multipart(
        client,
        f"{board}/threads",
        {"title": "楼下的猫", "body": "谁家的猫？"},
        [("images", "IMG_0001.JPG", photo_with_gps()), ("images", "cat.png", png())],
        token_from=board,
    )
    assert response.status_code == 302, await text(response)
    page = await text(await client.get(response.headers["Location"]))

    async with db.read_only() as session:
        images = (await session.execute(select(PostImage).order_by(col(PostImage.position)))).scalars().all()
    assert [(image.position, image.content_type, image.width, image.height) for image in images] == [
        (0, "image/jpeg", 300, 600),
        (1, "image/jpeg", 120, 80),
    ]
    first = images[0]
    assert f'href="/images/{first.id}/full"' in page
    assert f'src="/images/{first.id}/thumb" width="{first.thumb_width}" height="{first.thumb_height}"' in page
    assert 'alt="图片 1/2"' in page

    full = await client.get(f"/images/{first.id}/full")
    assert full.status_code == 200
    stored = Image.open(io.BytesIO(await full.get_data()))
    assert dict(stored.getexif()) == {} and stored.size == (300, 600)
    thumb = Image.open(io.BytesIO(await (await client.get(f"/images/{first.id}/thumb")).get_data()))
    assert thumb.size == (first.thumb_width, first.thumb_height) == (200, 400)
    # Two files per picture on disk, and not one byte of the camera's metadata in any of them.
    files = stored_files(tmp_path)
    assert len(files) == 4
    assert not any(b"PhoneMaker" in path.read_bytes() for path in files)


async def test_a_text_file_renamed_jpg_is_refused_with_a_clear_message_and_nothing_is_stored(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username="img_faker"), community=community)
    client = app.test_client()
    await login(client, "img_faker")
    board = f"/c/{community.slug}/b/talk"

    response = await post_multipart(
        client,
        f"{board}/threads",
        {"title": "看这张照片", "body": "内容"},
        [("images", "photo.png", png()), ("images", "photo.jpg", b"this is not a picture at all\n")],
        token_from=board,
    )
    assert response.status_code == 400
    page = await text(response)
    assert "“photo.jpg”不是 JPEG、PNG、GIF 或 WebP 图片。" in page
    assert 'id="e-images"' in page and 'aria-invalid="true"' in page
    assert "看这张照片" in page  # what was typed stays in the form
    assert await _counts(db) == (0, 0, 0)
    assert stored_files(tmp_path) == []


async def test_ten_pictures_are_refused_and_nothing_is_stored(app: Quart, db: Database, tmp_path: Path) -> None:
    thread = await _member_in_thread(db, "img_ten")
    client = app.test_client()
    await login(client, "img_ten")
    before = await _counts(db)

    response = await post_multipart(
        client,
        f"/t/{thread.id}/replies",
        {"body": "十张照片"},
        [("images", f"{n}.png", png()) for n in range(10)],
        token_from=f"/t/{thread.id}",
    )
    assert response.status_code == 400
    assert "每个帖子最多 9 张图片，您选了 10 张。" in await text(response)
    assert await _counts(db) == before
    assert stored_files(tmp_path) == []

    nine = await post_multipart(
        client,
        f"/t/{thread.id}/replies",
        {"body": "九张照片"},
        [("images", f"{n}.png", png()) for n in range(9)],
        token_from=f"/t/{thread.id}",
    )
    assert nine.status_code == 302
    assert (await _counts(db))[2] == 9


async def test_a_fifty_megabyte_upload_gets_413_as_a_page_and_as_json_and_nothing_is_stored(
    app: Quart, db: Database, tmp_path: Path
) -> None:
    thread = await _member_in_thread(db, "img_huge")
    client = app.test_client()
    await login(client, "img_huge")
    before = await _counts(db)
    huge = b"\xff\xd8\xff" + b"\0" * (50 * 1024 * 1024)

    page = await post_multipart(
        client, f"/t/{thread.id}/replies", {"body": "大文件"}, [("images", "huge.jpg", huge)], token_from="/"
    )
    assert page.status_code == 413
    assert "提交的内容太大了：一次最多 40 MB。请返回，少选几张或选小一些的图片。" in await text(page)

    app_client = app.test_client()  # a phone app: a bearer token, no cookie
    tokens = await app_client.post("/api/v1/auth/tokens", json={"username": "img_huge", "password": PASSWORD})
    token = (await tokens.get_json())["token"]
    body, headers = multipart({"body": "大文件"}, [("images", "huge.jpg", huge)])
    api = await app_client.post(
        f"/api/v1/threads/{thread.id}/replies", data=body, headers={**headers, "Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 413
    assert (await api.get_json())["error"] == "request_entity_too_large"
    assert await _counts(db) == before
    assert stored_files(tmp_path) == []


async def test_a_picture_over_the_size_limit_is_refused_by_name(db_url: str, db: Database, tmp_path: Path) -> None:
    from forum.app import create_app
    from tests.conftest import app_config

    app = create_app(app_config(db_url, tmp_path, IMAGE_MAX_BYTES=1024 * 1024))
    async with app.test_app():
        thread = await _member_in_thread(db, "img_big")
        client = app.test_client()
        await login(client, "img_big")
        response = await post_multipart(
            client,
            f"/t/{thread.id}/replies",
            {"body": "大图"},
            [("images", "small.png", png()), ("images", "big.png", b"x" * (1024 * 1024 + 1))],
            token_from=f"/t/{thread.id}",
        )
        assert response.status_code == 400
        assert "“big.png”超过 1 MB，请选一张小一些的图片。" in await text(response)
        assert await _counts(db) == (1, 1, 0)
        assert stored_files(tmp_path) == []


async def test_an_empty_file_input_posts_a_plain_reply(app: Quart, db: Database) -> None:
    thread = await _member_in_thread(db, "img_none")
    client = app.test_client()
    await login(client, "img_none")
    response = await post_multipart(
        client,
        f"/t/{thread.id}/replies",
        {"body": "没有图片"},
        [("images", "", b"")],  # what a browser sends when no file was chosen
        token_from=f"/t/{thread.id}",
    )
    assert response.status_code == 302
    assert await _counts(db) == (1, 2, 0)


# --- serving ---------------------------------------------------------------------------------------------------


async def _thread_with_picture(app: Quart, db: Database, *, author: str) -> tuple[object, Thread, PostImage]:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username=author), community=community)
    neighbour = await make_user(db)
    await make_member(db, user=neighbour, community=community)
    thread = await make_thread(db, author=neighbour, community=community)
    client = app.test_client()
    await login(client, author)
    response = await post_multipart(
        client,
        f"/t/{thread.id}/replies",
        {"body": "照片"},
        [("images", "a.jpg", photo_with_gps())],
        token_from=f"/t/{thread.id}",
    )
    assert response.status_code == 302, await text(response)
    async with db.read_only() as session:
        image = (await session.execute(select(PostImage))).scalar_one()
    return client, thread, image


async def test_pictures_are_cached_for_a_year_privately_and_revalidate_with_304(app: Quart, db: Database) -> None:
    client, _thread, image = await _thread_with_picture(app, db, author="img_cache")

    for variant in ("full", "thumb"):
        first = await client.get(f"/images/{image.id}/{variant}")
        assert first.status_code == 200
        assert first.headers["Content-Type"] == "image/jpeg"
        assert first.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        assert first.headers["X-Content-Type-Options"] == "nosniff"
        etag = first.headers["ETag"]
        assert etag == f'"{image.key}-{variant}"'
        again = await client.get(f"/images/{image.id}/{variant}", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert await again.get_data() == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    other = await client.get(f"/images/{image.id}/full", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert (await client.get(f"/images/{image.id}/original")).status_code == 404
    assert (await client.get(f"/images/{(image.id or 0) + 1000}/full")).status_code == 404


async def test_outsiders_get_404_and_waiting_members_403_for_a_members_only_picture(app: Quart, db: Database) -> None:
    _client, thread, image = await _thread_with_picture(app, db, author="img_private")
    async with db.read_only() as session:
        from forum.models import Community

        community = await session.get(Community, thread.community_id)
    assert community is not None
    await make_user(db, username="img_outsider")
    await make_pending(db, user=await make_user(db, username="img_waiting"), community=community)
    elsewhere = await make_community(db)
    await make_member(db, user=await make_user(db, username="img_other_sec"), community=elsewhere, role=Role.SECRETARY)

    for username, status in (("img_outsider", 404), ("img_other_sec", 404), ("img_waiting", 403)):
        client = app.test_client()
        await login(client, username)
        for variant in ("full", "thumb"):
            response = await client.get(f"/images/{image.id}/{variant}")
            assert response.status_code == status, (username, variant)
            assert response.headers["Content-Type"].startswith("text/html")
    signed_out = await app.test_client().get(f"/images/{image.id}/full")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]


async def test_deleting_a_post_removes_its_pictures_and_their_files(app: Quart, db: Database, tmp_path: Path) -> None:
    client, thread, image = await _thread_with_picture(app, db, author="img_delete")
    assert len(stored_files(tmp_path)) == 2
    async with db.read_only() as session:
        post = await session.get(Post, image.post_id)
    assert post is not None

    response = await post_form(client, f"/posts/{post.id}/delete", {"confirm": "1"}, token_from=f"/t/{thread.id}")
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert (await client.get(f"/images/{image.id}/full")).status_code == 404
    assert f"/images/{image.id}/thumb" not in await text(await client.get(f"/t/{thread.id}"))
    assert stored_files(tmp_path) == []
    assert (await _counts(db))[2] == 0


async def test_editing_a_post_keeps_its_pictures(app: Quart, db: Database) -> None:
    client, thread, image = await _thread_with_picture(app, db, author="img_edit")
    response = await post_form(
        client, f"/posts/{image.post_id}/edit", {"body": "改过的文字"}, token_from=f"/t/{thread.id}"
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = await text(await client.get(f"/t/{thread.id}"))
    assert "改过的文字" in page and f"/images/{image.id}/thumb" in page
    assert (await client.get(f"/images/{image.id}/full")).status_code == 200


async def test_a_reply_with_pictures_sends_them_in_the_post_created_event(app: Quart, db: Database) -> None:
    _client, thread, image = await _thread_with_picture(app, db, author="img_event")
    async with db.read_only() as session:
        stored = (await session.execute(select(Event).where(col(Event.type) == "post.created"))).scalar_one()
    assert stored.room == f"thread:{thread.id}"
    event = PostCreated.model_validate(json.loads(stored.payload))
    assert [picture.model_dump() for picture in event.images] == [
        {
            "url": f"/images/{image.id}/full",
            "thumb_url": f"/images/{image.id}/thumb",
            "width": 300,
            "height": 600,
            "thumb_width": 200,
            "thumb_height": 400,
        }
    ]


# --- the JSON API ----------------------------------------------------------------------------------------------


async def test_the_api_takes_pictures_as_multipart_and_returns_their_urls(app: Quart, db: Database) -> None:
    community = await make_community(db)
    await make_member(db, user=await make_user(db, username="img_api"), community=community)
    client = app.test_client()
    token = (
        await (await client.post("/api/v1/auth/tokens", json={"username": "img_api", "password": PASSWORD})).get_json()
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}

    body, headers = multipart({"title": "API 发帖", "body": "带图"}, [("images", "a.jpg", photo_with_gps())])
    created = await client.post(
        f"/api/v1/communities/{community.slug}/boards/talk/threads", data=body, headers={**headers, **bearer}
    )
    assert created.status_code == 201, await text(created)
    thread = await created.get_json()
    assert [(image["width"], image["height"]) for image in thread["images"]] == [(300, 600)]

    body, headers = multipart({"body": "两张"}, [("images", "b.png", png()), ("images", "c.png", png((80, 120)))])
    replied = await client.post(f"/api/v1/threads/{thread['id']}/replies", data=body, headers={**headers, **bearer})
    assert replied.status_code == 201, await text(replied)
    post = await replied.get_json()
    assert [(image["thumb_width"], image["thumb_height"]) for image in post["images"]] == [(120, 80), (80, 120)]
    picture = await client.get(post["images"][1]["url"], headers=bearer)
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/jpeg"

    # JSON without pictures works as before, and the thread lists every post's pictures.
    plain = await client.post(f"/api/v1/threads/{thread['id']}/replies", json={"body": "纯文字"}, headers=bearer)
    assert plain.status_code == 201 and (await plain.get_json())["images"] == []
    listed = await (await client.get(f"/api/v1/threads/{thread['id']}", headers=bearer)).get_json()
    assert [len(each["images"]) for each in listed["posts"]] == [1, 2, 0]
    assert listed["posts"][1]["images"] == post["images"]

    body, headers = multipart({"body": "坏图"}, [("images", "notes.jpg", b"plain text")])
    refused = await client.post(f"/api/v1/threads/{thread['id']}/replies", data=body, headers={**headers, **bearer})
    assert refused.status_code == 400
    answer = await refused.get_json()
    assert answer["error"] == "invalid_input" and "notes.jpg" in answer["fields"]["images"]
    missing = await client.post(
        f"/api/v1/threads/{thread['id']}/replies", data=multipart({}, [])[0], headers={**headers, **bearer}
    )
    assert missing.status_code == 400 and "body" in (await missing.get_json())["fields"]
    assert [
        len(each["images"])
        for each in (await (await client.get(f"/api/v1/threads/{thread['id']}", headers=bearer)).get_json())["posts"]
    ] == [1, 2, 0]


async def test_the_openapi_document_describes_both_request_bodies(app: Quart) -> None:
    document = await (await app.test_client().get("/openapi.json")).get_json()
    for path in ("/api/v1/threads/{thread_id}/replies", "/api/v1/communities/{slug}/boards/{board_slug}/threads"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}
        images = content["multipart/form-data"]["schema"]
        properties = images.get("properties")
        if properties is None:  # the schema is a reference to a component
            name = images["$ref"].rsplit("/", 1)[1]
            properties = document["components"]["schemas"][name]["properties"]
        assert properties["images"]["items"] == {"type": "string", "format": "binary"}
