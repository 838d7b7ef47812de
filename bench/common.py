"""What the fan-out and messages benches (bench/fanout.py, bench/messages.py) share around their measurements:
the common command-line options, the report that wraps the runs, the table printed from it, and `run_cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol


class Measured(Protocol):
    name: str

    def summary(self) -> dict[str, Any]: ...


# --- command line ----------------------------------------------------------------------------------------------


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """--database-url and --client-processes (defaulted by `parse_options`)."""
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres: a throwaway "
        "database is created on it and dropped afterwards (default: SQLite in a temp dir)",
    )
    parser.add_argument("--client-processes", type=int, help="default: one per 250 clients, at most 4")


def add_run_options(parser: argparse.ArgumentParser, *, sending: str) -> None:
    """--drain (seconds to wait for deliveries after `sending`: "posting", "sending"), --only and --json."""
    parser.add_argument("--drain", type=float, default=60.0, help=f"seconds to wait for deliveries after {sending}")
    parser.add_argument("--only", choices=["floor", "linli"], nargs="+", default=["floor", "linli"])
    parser.add_argument("--json", action="store_true", help="print the report as JSON after the table")


def parse_options(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, defaulting --client-processes to one per 250 --clients, at most 4."""
    options = parser.parse_args(argv)
    if options.client_processes is None:
        options.client_processes = max(1, min(4, math.ceil(options.clients / 250)))
    return options


# --- report ----------------------------------------------------------------------------------------------------


def make_report(
    options: argparse.Namespace,
    runs: Sequence[Measured],
    payload: int,
    envelope: dict[str, Any],
    ratio_keys: Sequence[str],
) -> dict[str, Any]:
    """The runs' summaries with the settings, both payload sizes (Linli's as sent, `payload`; the floor's
    `envelope`) and, when both ran, the ratio Linli/floor of each of `ratio_keys`."""
    report: dict[str, Any] = {
        "database": "postgresql" if options.database_url else "sqlite",
        "rate": options.rate,
        "client_processes": options.client_processes,
        "payload_bytes": {"linli": payload, "floor": len(json.dumps(envelope).encode())},
        "runs": {run.name: run.summary() for run in runs},
    }
    if len(runs) == 2:
        floor, linli = report["runs"]["floor"], report["runs"]["linli"]
        report["ratio"] = {key: linli[key] / floor[key] if floor[key] else math.nan for key in ratio_keys}
    return report


Cell = str | Callable[[dict[str, Any]], Any]  # a key of a run's summary, or what to show from the summary
Column = tuple[str, int, str, Cell]  # heading, width, format (".1f"; "" as it is), cell


def print_table(report: dict[str, Any], unit: str, note: str, columns: Sequence[Column]) -> None:
    """The settings (`unit`: what the rate counts, "replies" or "messages"), `note` (what the latencies are from),
    then a line per run: its name, `columns`, the server's CPU, the busiest client process's CPU and the load
    average; last, when both runs ran, the ratios Linli/floor."""
    print(
        f"database {report['database']}, {report['rate']} {unit}/s, {report['client_processes']} client processes, "
        f"payload bytes {report['payload_bytes']}"
    )
    print(note)
    headings = " ".join(f"{heading:>{width}}" for heading, width, _spec, _cell in columns)
    print(f"{'run':<6} {headings} {'srv CPU':>7} {'clientCPU':>9}  load")
    for name, row in report["runs"].items():
        cells = " ".join(
            f"{row[cell] if isinstance(cell, str) else cell(row):>{width}{spec}}"
            for _heading, width, spec, cell in columns
        )
        print(f"{name:<6} {cells} {row['server_cpu_pct']:>6.0f}% {row['client_cpu_max_pct']:>8.0f}%  {row['loadavg']}")
    if "ratio" in report:
        print("linli/floor: " + ", ".join(f"{key} {value:.2f}x" for key, value in report["ratio"].items()))


def run_cli(
    parse: Callable[[], argparse.Namespace],
    bench: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    show: Callable[[dict[str, Any]], None],
) -> None:
    """Run a bench from the command line: the table, then with --json the report as one line of JSON."""
    options = parse()
    report = asyncio.run(bench(options))
    show(report)
    if options.json:
        print(json.dumps(report))
