"""JSON API, version 1: the blueprint. The routes are in `forum/api/*_v1.py`, one module per part of the site
(accounts, communities, the forum, ...), each adding its routes to this blueprint when `forum.app` imports it.
They call the same domain actions as the pages; authenticate with a bearer token (`POST /api/v1/auth/tokens`)
or the login cookie plus an `X-CSRF-Token` header on writes."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")
