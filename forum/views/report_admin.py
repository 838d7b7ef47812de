"""Problem reports (我身边的事) as pages."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("report_admin", __name__)
