"""Configuration: one table of defaults, overridden by the environment, then by `create_app(overrides)`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

# Every setting Linli reads, with its development default. Values from the environment are strings and are
# converted to the type of the default.
DEFAULTS: dict[str, Any] = {
    "FORUM_ENV": "development",  # "production" makes SECRET_KEY mandatory and cookies Secure
    "VAR_DIR": "var",
    "DATABASE_URL": "",  # default: sqlite+aiosqlite:///<VAR_DIR>/linli.db
    "REDIS_URL": "",  # empty: in-process Socket.IO manager and in-memory rate limits
    "REDIS_CHANNEL": "linli",  # pub/sub channel shared by the processes of one deployment
    "SECRET_KEY": "",  # development: generated once into <VAR_DIR>/secret_key
    "UPLOAD_DIR": "",  # default: <VAR_DIR>/uploads
    # Pictures in posts. The request limit bounds a whole post (all its pictures); above it the answer is 413.
    "POST_MAX_IMAGES": 9,
    "IMAGE_MAX_BYTES": 10 * 1024 * 1024,  # one picture as uploaded
    "MAX_REQUEST_BYTES": 40 * 1024 * 1024,  # any request body
    "PUBLIC_URL": "",  # e.g. https://linli.example.org; used in QR posters. Empty: from the request.
    "HOST": "127.0.0.1",
    "PORT": 8000,
    "DEFAULT_LOCALE": "zh_Hans",
    "TIMEZONE": "Asia/Shanghai",  # how times are shown
    "SESSION_DAYS": 30,
    "EVENT_RETENTION_HOURS": 48,  # a client away longer than this reloads instead of resuming
    "NOTIFICATION_RETENTION_DAYS": 90,  # read notifications older than this are deleted (unread ones are kept)
    "SOCKET_EVENTS_PER_WINDOW": 60,  # events one Socket.IO connection may send per window; more and it is dropped
    "SOCKET_WINDOW_SECONDS": 10.0,
    "SOCKETS_PER_ACCOUNT": 20,  # open Socket.IO connections of one account, per process; more are refused
    "SOCKET_FAILED_CONNECTS_PER_MINUTE": 60,  # connects without a valid login, per client address and process
    "SALE_LAPSE_SECONDS": 60.0,  # the sales clock: lapse unpaid reservations, remind buyers, close ended sales
    # Every process reads new events from the event log at least this often, besides when Redis says there are
    # some: events whose announcement was lost (Redis away, a process killed after its commit) arrive anyway.
    "EVENT_POLL_SECONDS": 2.0,
    "RATE_LIMITS_ENABLED": True,
    # Changes to the rate limits, by name: "posts.account=20/5m, likes.address=600/10m" (forum/web/ratelimits.py).
    "RATE_LIMITS": "",
    # Rendered posts kept per process (forum.web.templating.PostFragments); about 2 KB each. 0 turns it off.
    "POST_CACHE_SIZE": 5000,
    # uvicorn trusts X-Forwarded-For only from these addresses (comma-separated), e.g. the proxy's.
    "FORWARDED_ALLOW_IPS": "127.0.0.1",
    "WORKERS": 1,
    "SQL_ECHO": False,
    # PostgreSQL connections of one process: kept open, extra ones opened under load, and how long a request
    # waits for one (then 503). A new connection that does not open in DB_CONNECT_SECONDS is given up (then 503).
    "DB_POOL_SIZE": 10,
    "DB_POOL_OVERFLOW": 10,
    "DB_POOL_TIMEOUT": 10.0,
    "DB_CONNECT_SECONDS": 5.0,
}

LOCALES = ("zh_Hans", "en")


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def _convert(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if key in os.environ:
            config[key] = _convert(default, os.environ[key])
    config.update(overrides or {})

    var_dir = Path(config["VAR_DIR"]).resolve()
    config["VAR_DIR"] = str(var_dir)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite+aiosqlite:///{var_dir / 'linli.db'}"
    if not config["UPLOAD_DIR"]:
        config["UPLOAD_DIR"] = str(var_dir / "uploads")
    config["PRODUCTION"] = config["FORUM_ENV"] == "production"
    if not config["SECRET_KEY"]:
        if config["PRODUCTION"]:
            raise ConfigError("SECRET_KEY must be set when FORUM_ENV=production.")
        config["SECRET_KEY"] = _development_secret(var_dir)
    if config["DEFAULT_LOCALE"] not in LOCALES:
        raise ConfigError(f"DEFAULT_LOCALE must be one of {', '.join(LOCALES)}.")
    return config


def _development_secret(var_dir: Path) -> str:
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
