"""``fakeweb jobs``: the caller's recent jobs, newest first."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fakeweb_cli.client import ApiError, FakewebClient, add_connection_arguments, connection_from

STATUS_STYLE = {"completed": "green", "failed": "bold red", "no_face": "cyan", "running": "yellow", "queued": "dim"}


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the jobs command's arguments to ``parser``."""
    parser.add_argument("-n", "--limit", type=int, default=20, help="how many jobs to list (default 20)")
    parser.add_argument("--json", action="store_true", help="print the job documents as JSON")
    add_connection_arguments(parser)
    parser.set_defaults(handler=run)
    return parser


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``jobs`` subcommand to a ``fakeweb`` argparse parser."""
    parser = subparsers.add_parser(
        "jobs", help="list your recent jobs", description="List the jobs of your API key, newest first."
    )
    return configure(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``fakeweb jobs``; the process exit code."""
    err = Console(stderr=True, highlight=False)
    try:
        with FakewebClient(connection_from(args)) as client:
            jobs = client.list_jobs(limit=max(1, args.limit))
    except ApiError as exc:
        err.print(f"[red]✗[/] cannot list jobs: {exc}")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(jobs, indent=2) + "\n")
    else:
        Console(highlight=False).print(jobs_table(jobs))
    return 0


def face_counts(job: dict[str, Any]) -> str:
    """``"3 (1 manipulated)"`` from the job's faces, or its progress while it runs."""
    faces = job.get("faces")
    if faces is None:
        total = (job.get("progress") or {}).get("faces_total")
        return "" if total is None else str(total)
    manipulated = sum(1 for face in faces if face.get("verdict") == "manipulated")
    return f"{len(faces)}" + (f" ({manipulated} manipulated)" if manipulated else "")


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    """One row per job: id, when, status, faces, threshold."""
    table = Table(title=f"{len(jobs)} recent job{'s' if len(jobs) != 1 else ''}", title_justify="left")
    table.add_column("job id", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("status")
    table.add_column("faces")
    table.add_column("threshold", justify="right")
    for job in jobs:
        created = job.get("created_at")
        when = datetime.fromtimestamp(float(created)).strftime("%Y-%m-%d %H:%M:%S") if created else ""
        status = job.get("status", "")
        if status == "running" and job.get("stage"):
            status = f"running: {job['stage']}"
        elif status == "failed" and job.get("error"):
            status = f"failed: {job['error'].get('message', '')}"
        if job.get("cached"):
            status += " (cached)"
        threshold = job.get("threshold")
        table.add_row(
            job.get("id", ""),
            when,
            Text(status, style=STATUS_STYLE.get(job.get("status", ""), "")),
            face_counts(job),
            f"{float(threshold):.2f}" if threshold is not None else "",
        )
    return table


def main(argv: list[str] | None = None) -> int:
    """``python -m fakeweb_cli.jobs``: the jobs command on its own."""
    parser = configure(argparse.ArgumentParser(prog="fakeweb jobs", description="List your recent jobs."))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
