"""The documents that promise things to users and client authors say what the code does."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from realtime.docs import BEGIN, END, events_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_the_realtime_contract_lists_exactly_the_registered_events() -> None:
    document = (ROOT / "docs/realtime.md").read_text()
    start, end = document.index(BEGIN), document.index(END) + len(END)
    assert document[start:end] == events_markdown(), "regenerate with `python -m realtime.docs`"


def test_the_readme_has_the_two_setup_commands_and_every_demo_login() -> None:
    from forum.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_PENDING

    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert DEMO_PASSWORD in readme
    for account in DEMO_ACCOUNTS + DEMO_PENDING:
        assert f"`{account.username}`" in readme, account.username


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_every_module_function_and_file_the_docs_name_exists() -> None:
    """docs/ names code by dotted path (`forum.rooms.THREAD`) and files by path (`forum/flaggables.py`): each
    must exist, so the docs cannot keep describing what was renamed or removed."""
    ignored = (ROOT / ".gitignore").read_text().split()
    missing = []
    for document in sorted((ROOT / "docs").glob("*.md")):
        text = document.read_text()
        for dotted in re.findall(r"`((?:forum|realtime)(?:\.[A-Za-z_]\w*)+)`", text):
            if not _resolves(dotted):
                missing.append(f"{document.name}: {dotted}")
        for path in re.findall(r"`((?:forum|realtime|static|templates|tests|bench|deploy)/[^`\s]+)`", text):
            if "<" in path or "*" in path or "…" in path or path.rstrip("/") + "/" in ignored:
                continue
            if not (ROOT / path.split("::")[0]).exists():
                missing.append(f"{document.name}: {path}")
    assert not missing, missing
