"""What a notification is about (`notification.subject`), one spelling per kind of thing: gathering (the likes
of one post), marking read (a conversation opened) and forgetting (a post deleted) find the notifications
another action wrote only if both spell it alike."""

from __future__ import annotations


def post(post_id: int) -> str:
    return f"post:{post_id}"


def thread(thread_id: int) -> str:
    return f"thread:{thread_id}"


def letter(letter_id: int) -> str:
    return f"letter:{letter_id}"


def listing(listing_id: int) -> str:
    return f"listing:{listing_id}"


def message(message_id: int) -> str:
    return f"message:{message_id}"


def conversation(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


def sale(sale_id: int) -> str:
    return f"sale:{sale_id}"


def reservation(reservation_id: int) -> str:
    return f"reservation:{reservation_id}"


def membership(community_id: int) -> str:
    """The person's membership of a community (verified)."""
    return f"community:{community_id}"


def muted(community_id: int) -> str:
    return f"muted:{community_id}"


def suspended(community_id: int) -> str:
    return f"suspended:{community_id}"


def report(report_id: int) -> str:
    return f"report:{report_id}"


def report_comment(comment_id: int) -> str:
    return f"report_comment:{comment_id}"
