"""Absolute URLs for things that leave the site: printed posters, links in API answers."""

from __future__ import annotations

from quart import current_app, url_for


def join_url(code: str) -> str:
    """The join page of a code, under PUBLIC_URL when configured (a poster must work from any network)."""
    public = current_app.config["PUBLIC_URL"].rstrip("/")
    if public:
        return public + url_for("communities.join", code=code)
    return url_for("communities.join", code=code, _external=True)
