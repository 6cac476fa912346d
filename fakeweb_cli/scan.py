"""``fakeweb scan``: submit photos (files or URLs), follow each job, save annotated images, report faces."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from fakeweb_cli.client import FINAL_STATUSES, ApiError, FakewebClient, add_connection_arguments, connection_from

OUTPUT_SUFFIX = ".fakeweb.jpg"
VIDEO_SUFFIX = ".fakeweb.mp4"
STAGE_LABELS = {
    "provenance": "reading credentials",
    "detect": "finding faces",
    "classify": "scoring faces",
    "annotate": "drawing result",
}
REASON_TEXT = {
    "too_small": "too small",
    "too_blurry": "too blurry",
    "cut_off": "cut off",
    "too_few_frames": "scored in too few frames",
}
# Transient answers worth waiting out while polling (not the caller's fault).
RETRYABLE_STATUSES = frozenset({0, 429, 502, 503, 504})
# Refusals of a submission that stored nothing (rate limit, job cap, overload): safe to send again.
SUBMIT_RETRY_STATUSES = frozenset({429, 503})
DEFAULT_RETRY_AFTER_S = 2.0


@dataclass
class ScanItem:
    """One photo given on the command line and what became of it."""

    source: str
    path: Path | None = None
    url: str | None = None
    job_id: str | None = None
    document: dict[str, Any] | None = None
    error: ApiError | None = None
    output: Path | None = None
    video_output: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error is not None and self.document is None:
            return "rejected" if self.job_id is None else "error"
        return (self.document or {}).get("status", "queued")

    @property
    def ok(self) -> bool:
        return self.error is None and self.status in ("completed", "no_face")


def probability(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return value


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add scan's arguments to ``parser``."""
    parser.add_argument("photos", nargs="*", type=Path, metavar="PHOTO", help="JPEG, PNG or WebP files to check")
    parser.add_argument(
        "--url", dest="urls", action="append", default=[], metavar="URL", help="a photo on the web (repeatable)"
    )
    parser.add_argument(
        "--threshold",
        type=probability,
        default=None,
        metavar="T",
        help="0..1: a face at or above it is manipulated (default: the server's)",
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=None,
        metavar="OUT",
        help=f"folder for the annotated images NAME{OUTPUT_SUFFIX} (default: next to each photo; URLs: here)",
    )
    parser.add_argument("--json", action="store_true", help="print the job documents as JSON instead of a table")
    parser.add_argument("--no-wait", action="store_true", help="submit, print the job ids and exit")
    parser.add_argument(
        "--timeout", type=float, default=600.0, metavar="SECONDS", help="give up waiting after this long (default 600)"
    )
    add_connection_arguments(parser)
    parser.set_defaults(handler=run)
    return parser


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``scan`` subcommand to a ``fakeweb`` argparse parser."""
    parser = subparsers.add_parser(
        "scan",
        help="check photos for manipulated faces",
        description="Submit photos to FakeWeb, show each job's progress, save the annotated images "
        "and list every face with its verdict. Exits 1 when any photo is rejected or its job fails.",
    )
    return configure(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``fakeweb scan``; the process exit code."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    items = [ScanItem(source=str(path), path=path) for path in args.photos]
    items += [ScanItem(source=url, url=url) for url in args.urls]
    if not items:
        err.print("[red]Nothing to scan:[/] give one or more PHOTO files or --url URL.")
        return 2
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)

    with FakewebClient(connection_from(args)) as client:
        for item in items:
            submit(client, item, args.threshold, wait_s=args.timeout, console=err)
        if not args.no_wait:
            follow(client, [item for item in items if item.job_id], err, args.timeout)
            save_outputs(client, items, args.output_dir)

    if args.json:
        sys.stdout.write(json.dumps([json_entry(item) for item in items], indent=2) + "\n")
    elif args.no_wait:
        print_submitted(out, items)
    else:
        print_faces(out, items)
    for item in items:
        if item.error is not None:
            err.print(f"[red]✗[/] {item.source}: {item.error.message}")
        elif item.status == "failed":
            message = ((item.document or {}).get("error") or {}).get("message", "the job failed")
            err.print(f"[red]✗[/] {item.source}: {message}")
    if args.no_wait:
        return 0 if all(item.job_id for item in items) else 1
    return 0 if all(item.ok for item in items) else 1


def submit(
    client: FakewebClient,
    item: ScanItem,
    threshold: float | None,
    wait_s: float = 0.0,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Submit one photo; record the job id or the refusal.

    A 429 or 503 (the tenant's job cap, an overloaded service, the rate limit) stored nothing, so
    the submission is sent again after the answer's ``Retry-After``, for up to ``wait_s`` seconds.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if item.path is not None:
                if not item.path.is_file():
                    item.error = ApiError(0, "not_found", f"{item.path} is not a file.")
                    return
                accepted = client.submit_photo(item.path, threshold=threshold)
            else:
                accepted = client.submit_url(item.url or "", threshold=threshold)
        except ApiError as exc:
            pause = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER_S
            if exc.status in SUBMIT_RETRY_STATUSES and time.monotonic() + pause <= deadline:
                if console is not None:
                    console.print(f"[yellow]…[/] {item.source}: {exc.message} Trying again in {pause:g} s.")
                sleep(pause)
                continue
            item.error = exc
            return
        except OSError as exc:
            item.error = ApiError(0, "unreadable", f"Cannot read {item.path}: {exc.strerror or exc}")
            return
        item.job_id = accepted["id"]
        item.document = None
        return


def stage_fraction(document: dict[str, Any]) -> float:
    """How far a job is, 0..1, from its status, stage and progress counters."""
    status = document.get("status")
    if status in FINAL_STATUSES:
        return 1.0
    progress = document.get("progress") or {}
    stage = document.get("stage")
    if status != "running" or stage is None:
        return 0.02
    if stage == "provenance":
        return 0.06
    if stage == "detect":
        frames, detected = progress.get("frames_total"), progress.get("frames_detected") or 0
        return 0.05 + 0.28 * (detected / frames) if frames else 0.1
    if stage == "classify":
        judgeable = progress.get("faces_judgeable") or 0
        scored = progress.get("faces_scored") or 0
        return 0.33 + 0.34 * (scored / judgeable if judgeable else 0.0)
    if stage == "annotate":
        return 0.8
    return 0.05


def stage_text(document: dict[str, Any]) -> str:
    """Short words for where a job is."""
    status = document.get("status", "queued")
    if status == "running":
        words = STAGE_LABELS.get(document.get("stage") or "", document.get("stage") or "running")
        progress = document.get("progress") or {}
        total = progress.get("faces_total")
        if document.get("stage") == "detect" and progress.get("frames_total"):
            return f"{words} (frame {progress.get('frames_detected') or 0}/{progress['frames_total']})"
        return f"{words}" + (f" ({total} face{'s' if total != 1 else ''})" if total is not None else "")
    if status == "no_face":
        return "no face found"
    return status


def follow(client: FakewebClient, items: list[ScanItem], console: Console, timeout_s: float) -> None:
    """Poll every job until it ends, showing a progress bar per job on ``console``."""
    if not items:
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", style="bold"),
        BarColumn(bar_width=28),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
    )
    deadline = time.monotonic() + timeout_s
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, TaskID] = {
            item.job_id or "": progress.add_task(_display_name(item), total=1.0, stage="queued") for item in items
        }
        pending = list(items)
        interval = 0.25
        while pending:
            for item in list(pending):
                try:
                    document = client.job(item.job_id or "")
                except ApiError as exc:
                    if exc.status in RETRYABLE_STATUSES and time.monotonic() < deadline:
                        progress.update(tasks[item.job_id or ""], stage=f"[yellow]{exc.message}")
                        continue
                    item.error = exc
                    progress.update(tasks[item.job_id or ""], stage=f"[red]{exc.message}")
                    pending.remove(item)
                    continue
                item.document = document
                status = document.get("status")
                style = {"failed": "[red]", "completed": "[green]", "no_face": "[cyan]"}.get(status or "", "")
                progress.update(
                    tasks[item.job_id or ""], completed=stage_fraction(document), stage=style + stage_text(document)
                )
                if status in FINAL_STATUSES:
                    pending.remove(item)
            if pending and time.monotonic() > deadline:
                for item in pending:
                    item.error = ApiError(0, "timeout", f"Job {item.job_id} did not end within {timeout_s:.0f} s.")
                    progress.update(tasks[item.job_id or ""], stage="[red]timed out")
                return
            if pending:
                time.sleep(interval)
                interval = min(1.0, interval * 1.2)


def output_path(item: ScanItem, output_dir: Path | None, taken: set[Path]) -> Path:
    """Where the annotated image of ``item`` goes: next to the photo, or in ``output_dir``; never twice the same."""
    if item.path is not None:
        stem, folder = item.path.stem, item.path.parent
    else:
        stem = Path(urlparse(item.url or "").path).stem or "photo"
        folder = Path.cwd()
    folder = output_dir if output_dir is not None else folder
    candidate = folder / f"{stem}{OUTPUT_SUFFIX}"
    if candidate in taken:
        candidate = folder / f"{stem}.{(item.job_id or 'job')[:8]}{OUTPUT_SUFFIX}"
    taken.add(candidate)
    return candidate


def save_outputs(client: FakewebClient, items: list[ScanItem], output_dir: Path | None) -> None:
    """Download the annotated image of every ended job and write it to disk."""
    taken: set[Path] = set()
    for item in items:
        if item.error is not None or item.status not in ("completed", "no_face"):
            continue
        target = output_path(item, output_dir, taken)
        try:
            data = client.annotated_image(item.job_id or "")
        except ApiError as exc:
            item.notes.append(f"no annotated image: {exc.message}")
            continue
        target.write_bytes(data)
        item.output = target
        if (item.document or {}).get("media") == "video":
            clip = target.with_name(target.name.removesuffix(OUTPUT_SUFFIX) + VIDEO_SUFFIX)
            try:
                clip.write_bytes(client.annotated_video(item.job_id or ""))
            except ApiError as exc:
                item.notes.append(f"no annotated clip: {exc.message}")
                continue
            item.video_output = clip


def json_entry(item: ScanItem) -> dict[str, Any]:
    """One element of ``--json`` output."""
    error = None
    if item.error is not None:
        error = {"code": item.error.code, "message": item.error.message, "http_status": item.error.status or None}
    elif item.document and item.document.get("error"):
        error = item.document["error"]
    return {
        "source": item.source,
        "job_id": item.job_id,
        "status": item.status,
        "output": str(item.output) if item.output else None,
        "video_output": str(item.video_output) if item.video_output else None,
        "error": error,
        "job": item.document,
    }


def verdict_text(verdict: str) -> Text:
    """A coloured verdict word."""
    style = {"manipulated": "bold red", "genuine": "green", "unjudgeable": "dim"}.get(verdict, "")
    return Text(verdict, style=style)


def probability_text(p: float | None, threshold: float) -> Text:
    """A percentage with a ten-cell bar, red at or above the threshold."""
    if p is None:
        return Text("—", style="dim")
    cells = round(p * 10)
    style = "red" if p >= threshold else "green"
    return Text.assemble((f"{p * 100:5.1f}% ", ""), ("█" * cells, style), ("░" * (10 - cells), "dim"))


def print_faces(console: Console, items: list[ScanItem]) -> None:
    """A table with one row per face (and one per photo without faces or with an error)."""
    wide = console.width >= 110
    table = Table(title="FakeWeb scan", title_justify="left", header_style="bold")
    table.add_column("photo", overflow="fold", max_width=32)
    table.add_column("#", justify="right")
    table.add_column("verdict", no_wrap=True)
    table.add_column("manipulated", no_wrap=True)
    table.add_column("note", overflow="fold", ratio=1)
    table.add_column("model", no_wrap=True)
    if wide:
        table.add_column("box x, y, w, h", no_wrap=True)
    for item in items:
        document = item.document or {}
        threshold = float(document.get("threshold", 0.5))
        faces = document.get("faces") or []
        name = _display_name(item)
        if item.error is not None or item.status == "failed":
            message = item.error.message if item.error else (document.get("error") or {}).get("message", "failed")
            table.add_row(name, "", Text(item.status, style="bold red"), "", message, "", *([""] if wide else []))
            continue
        if not faces:
            table.add_row(name, "", Text("no face", style="cyan"), "", "", "", *([""] if wide else []))
            continue
        if document.get("tracks") is not None:
            for track in document["tracks"]:
                table.add_row(*track_row(name, track, threshold), *([""] if wide else []))
                name = ""
            continue
        for face in faces:
            model = face.get("model")
            notes = [REASON_TEXT.get(face.get("reason") or "", face.get("reason") or "")]
            if face.get("mesh_note"):
                notes.append(face["mesh_note"])
            row = [
                name,
                str(face["index"] + 1),
                verdict_text(face["verdict"]),
                probability_text(face.get("manipulated_probability"), threshold),
                "; ".join(note for note in notes if note),
                f"{model['name']} v{model['version']}" if model else "",
            ]
            if wide:
                row.append(", ".join(str(v) for v in face["box"]))
            table.add_row(*row)
            name = ""
    console.print(table)
    for item in items:
        line = credentials_line(item.document or {})
        if line:
            console.print(f"{_display_name(item)}: {line}", markup=False, highlight=False, soft_wrap=True)
    for item in items:
        if item.output is not None:
            console.print(f"[green]✓[/] {_display_name(item)} → {item.output}")
        if item.video_output is not None:
            console.print(f"[green]✓[/] {_display_name(item)} → {item.video_output}")
        for note in item.notes:
            console.print(f"[yellow]![/] {_display_name(item)}: {note}")


def track_row(name: str, track: dict[str, Any], threshold: float) -> list[str | Text]:
    """One table row for a person tracked through a video: the track's verdict, where it was seen."""
    model = track.get("model")
    seen = f"person, {track['frames_seen']} frames, {track['first_s']:.1f}-{track['last_s']:.1f} s"
    reason = REASON_TEXT.get(track.get("reason") or "", "")
    return [
        name,
        str(track["track"] + 1),
        verdict_text(track["verdict"]),
        probability_text(track.get("manipulated_probability"), threshold),
        "; ".join(note for note in (seen, reason) if note),
        f"{model['name']} v{model['version']}" if model else "",
    ]


def credentials_line(document: dict[str, Any]) -> str | None:
    """One line on the photo's Content Credentials (status, writer, signer, source type) and any disagreement."""
    provenance = document.get("provenance")
    if not provenance or document.get("status") == "failed":
        return None
    parts = [f"credentials {provenance.get('status', 'pending')}"]
    for label, key in (("written by", "claim_generator"), ("signed by", "signer")):
        if provenance.get(key):
            parts.append(f"{label} {provenance[key]}")
    if provenance.get("digital_source_type"):
        parts.append(f"source type {provenance['digital_source_type']} ({provenance.get('digital_source_type_from')})")
    if provenance.get("badge"):
        parts.append(f"declares {provenance['badge']}")
    line = ", ".join(parts)
    summary = document.get("summary") or ""
    if "Disagreement:" in summary:
        line += " | " + summary[summary.index("Disagreement:") :]
    return line


def _display_name(item: ScanItem) -> str:
    if item.path is not None:
        return item.path.name
    return _short(item.source)


def print_submitted(console: Console, items: list[ScanItem]) -> None:
    """The job id of every accepted photo (``--no-wait``)."""
    table = Table(header_style="bold")
    table.add_column("photo", overflow="fold")
    table.add_column("job id", no_wrap=True)
    table.add_column("status")
    for item in items:
        table.add_row(_display_name(item), item.job_id or "", item.status)
    console.print(table)


def _short(source: str, limit: int = 48) -> str:
    return source if len(source) <= limit else "…" + source[-(limit - 1) :]


def main(argv: list[str] | None = None) -> int:
    """``python -m fakeweb_cli.scan``: the scan command on its own."""
    parser = configure(argparse.ArgumentParser(prog="fakeweb scan", description=register.__doc__))
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
