"""The documents that promise things to users and client authors say what the code does."""

from __future__ import annotations

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
