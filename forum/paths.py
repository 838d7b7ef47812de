"""Stable paths of forum objects, for event payloads and links built outside a request."""

from __future__ import annotations

from urllib.parse import quote

POSTS_PER_PAGE = 50


def community_path(slug: str) -> str:
    return f"/c/{slug}"


def thread_path(thread_id: int) -> str:
    return f"/t/{thread_id}"


def post_path(thread_id: int, number: int) -> str:
    """A reply's permanent link; it redirects to the page the reply is on."""
    return f"/t/{thread_id}/p/{number}"


def page_start(number: int) -> int:
    """The `after` cursor of the page that shows post `number` (pages hold POSTS_PER_PAGE posts)."""
    return (number - 1) // POSTS_PER_PAGE * POSTS_PER_PAGE


def image_path(image_id: int, variant: str = "full") -> str:
    """A post picture (`full` or `thumb`); served by forum.views.images behind the thread's access check."""
    return f"/images/{image_id}/{variant}"


def message_image_path(image_id: int, variant: str = "full") -> str:
    """A picture in a private message; served by forum.views.images to the conversation's participants only."""
    return f"/messages/images/{image_id}/{variant}"


def letter_path(letter_id: int) -> str:
    return f"/letters/{letter_id}"


def letter_image_path(image_id: int, variant: str = "full") -> str:
    """A photo in a thank-you letter; served by forum.views.images under the letter's access check."""
    return f"/letters/images/{image_id}/{variant}"


def sale_path(sale_id: int) -> str:
    return f"/sales/{sale_id}"


def sale_item_image_path(image_id: int, variant: str = "full") -> str:
    """A photo of an item in a charity sale; served by forum.views.images under the sale's access check."""
    return f"/sales/images/{image_id}/{variant}"


def listing_path(listing_id: int) -> str:
    return f"/market/{listing_id}"


def listing_image_path(image_id: int, variant: str = "full") -> str:
    """A photo of a swap or give-away; served by forum.views.images under the listing's access check."""
    return f"/market/images/{image_id}/{variant}"


def post_action_path(post_id: int, action: str) -> str:
    """/posts/<id>/like, /likes, /edit, /history: built without url_for, which costs 20 µs a link and a thread
    page has four links a post. tests/test_threads.py checks they agree with the routes."""
    return f"/posts/{post_id}/{action}"


def profile_path(username: str) -> str:
    return f"/u/{quote(username, safe='')}"


def message_path(conversation_id: int, message_id: int) -> str:
    """A private message, on its conversation's page (participants only)."""
    return f"/messages/{conversation_id}#m-{message_id}"


def report_path(report_id: int) -> str:
    return f"/reports/{report_id}"


def report_image_path(image_id: int, variant: str = "full") -> str:
    return f"/reports/images/{image_id}/{variant}"
