"""A short, readable name for a device from its User-Agent, for the list of signed-in devices."""

from __future__ import annotations

from forum.i18n import N_, gettext

_APPS = [
    ("MicroMessenger", "WeChat"),
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
]
_SYSTEMS = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
]


def describe_device(user_agent: str) -> str:
    """'Chrome on Android', 'WeChat on iPhone'; API clients and unknown agents get a plain word."""
    if not user_agent:
        return gettext(N_("Unknown device"))
    app = next((name for marker, name in _APPS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if app and system:
        return gettext(N_("%(app)s on %(system)s"), app=app, system=system)
    if app or system:
        return app or system or ""
    return user_agent.split("/", 1)[0][:40]
