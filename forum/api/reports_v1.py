"""Problem reports (我身边的事) in the JSON API: adds its routes to the v1 blueprint."""

from __future__ import annotations
