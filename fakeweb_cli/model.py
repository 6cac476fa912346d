"""``fakeweb model``: deploy, promote, roll back and list model versions in the serving repository.

Serving (the real TF Serving, or the local stand-in) polls ``models.config`` and the version
folders, so every change here takes effect without a restart.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fakeweb_cli.model_repository import (
    STABLE,
    Change,
    DeployError,
    ModelRepository,
    plan_deploy,
    plan_promote,
    plan_rollback,
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``fakeweb model`` and its subcommands."""
    parser = subparsers.add_parser(
        "model", help="deploy and manage model versions", description=__doc__.split("\n\n")[0]
    )
    parser.set_defaults(handler=lambda _args: parser.print_help() or 2)
    commands = parser.add_subparsers(dest="model_command", metavar="ACTION")

    deploy = commands.add_parser("deploy", help="validate a SavedModel and deploy it as a new version")
    deploy.add_argument("path", type=Path, help="SavedModel export folder (saved_model.pb, variables/)")
    deploy.add_argument("--version", type=int, help="version number (default: newest on disk + 1)")
    deploy.add_argument("--label", default=STABLE, help="label for the new version: stable (default) or canary")
    deploy.set_defaults(handler=run_deploy)

    promote = commands.add_parser("promote", help="make the canary the stable version")
    promote.set_defaults(handler=run_promote)
    rollback = commands.add_parser("rollback", help="withdraw the canary, or move stable back to the previous version")
    rollback.set_defaults(handler=run_rollback)
    listing = commands.add_parser("list", help="versions on disk, labels and what serving has loaded")
    listing.set_defaults(handler=run_list)

    for command in (deploy, promote, rollback, listing):
        _add_common(command)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    from services.contract.settings import get_settings

    settings = get_settings()
    group = parser.add_argument_group("repository and serving (defaults from FAKEWEB_* settings)")
    group.add_argument("--model", default=settings.model_name, help="model name (%(default)s)")
    group.add_argument("--base", type=Path, default=settings.model_base_path, help="model repository (%(default)s)")
    group.add_argument(
        "--config", type=Path, default=settings.resolved_model_config_file, help="models.config (%(default)s)"
    )
    group.add_argument(
        "--server-base-path",
        help="base_path to write for a new model entry, as the server sees it (e.g. /models/fakeweb in compose)",
    )
    group.add_argument("--serving", default=settings.serving_address, help="TF Serving gRPC address (%(default)s)")
    group.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for a version to load")


def _repository(args: argparse.Namespace) -> ModelRepository:
    return ModelRepository(args.base, args.config, args.model, args.server_base_path)


def run_deploy(args: argparse.Namespace) -> int:
    """Validate, copy in atomically (with warmup requests), then load and label the new version."""
    from fakeweb_cli.validation import InvalidModel, check_signature, smoke_predict, write_warmup

    export = args.path
    try:
        signature = check_signature(export)
        probability = smoke_predict(export, signature)
    except InvalidModel as exc:
        return _fail(f"{export} cannot be deployed: {exc}")
    print(
        f"validated {export}: input {signature.input_name} uint8 [N, {signature.height}, {signature.width}, 3], "
        f"output {signature.output_name}; smoke face scored {probability:.3f}"
    )
    repo = _repository(args)
    try:
        with repo.locked():
            view = repo.view()
            version = args.version or (max(view.on_disk, default=0) + 1)
            if version <= 0:
                return _fail("--version must be a positive number")
            change = plan_deploy(view, version, args.label)

            def prepare(folder: Path) -> None:
                if write_warmup(folder, signature, args.model):
                    print("wrote warmup requests (assets.extra/tf_serving_warmup_requests)")

            target = repo.install(export, version, prepare)
            print(f"copied to {target}")
            return _apply(repo, change, args)
    except DeployError as exc:
        return _fail(str(exc))


def run_promote(args: argparse.Namespace) -> int:
    """Move ``stable`` to the canary version."""
    return _change(args, plan_promote)


def run_rollback(args: argparse.Namespace) -> int:
    """Withdraw the canary, or move ``stable`` back one version."""
    return _change(args, plan_rollback)


def _change(args: argparse.Namespace, plan: object) -> int:
    repo = _repository(args)
    try:
        with repo.locked():
            return _apply(repo, plan(repo.view()), args)  # type: ignore[operator]
    except DeployError as exc:
        return _fail(str(exc))


def _apply(repo: ModelRepository, change: Change, args: argparse.Namespace) -> int:
    if change.wait_for:
        repo.write(change.staging, repo.view().labels)
        print(f"models.config: loading versions {list(change.staging)}")
    if change.wait_for:
        error = _wait_available(args.serving, repo.name, set(change.wait_for), args.timeout)
        if error:
            return _fail(f"{error}; labels left unchanged")
    repo.write(change.policy, change.labels)
    labels = ", ".join(f"{k}={v}" for k, v in sorted(change.labels.items()))
    print(f"models.config: versions {list(change.policy)}, labels {labels or '(none)'}")
    error = _wait_labels(args.serving, repo.name, change.labels, args.timeout)
    if error:
        return _fail(error)
    print(change.summary)
    return 0


def _wait_labels(address: str, name: str, labels: dict[str, int], timeout_s: float) -> str | None:
    """Wait until serving resolves every label to its new version (its next config poll); an error text, or None."""
    from services.classifier.serving_client import ModelRoute, ServingCallError, ServingClient
    from services.contract.tasks import ServingUnavailable

    client = ServingClient(address, timeout_s=5.0, attempts=1)
    deadline = time.monotonic() + timeout_s
    try:
        pending = dict(labels)
        while pending:
            for label, version in list(pending.items()):
                try:
                    if client.metadata(ModelRoute(name, label=label)).version == version:
                        del pending[label]
                except ServingUnavailable:
                    return None  # already warned, or serving is down: the config is in place either way
                except ServingCallError:
                    pass
            if pending and time.monotonic() > deadline:
                return f"serving did not apply labels {pending} within {timeout_s:.0f} s (check its log)"
            if pending:
                time.sleep(0.3)
        if labels:
            print("serving answers " + ", ".join(f"{k} -> {v}" for k, v in sorted(labels.items())))
        return None
    finally:
        client.close()


def _wait_available(address: str, name: str, versions: set[int], timeout_s: float) -> str | None:
    """Wait until serving reports ``versions`` AVAILABLE; an error text, or None. Unreachable serving only warns."""
    from services.classifier.serving_client import ServingCallError, ServingClient
    from services.contract.tasks import ServingUnavailable

    client = ServingClient(address, timeout_s=5.0, attempts=1)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                states = {v: (state, error) for v, state, error in client.model_status(name)}
            except ServingUnavailable:
                print(
                    f"warning: TF Serving at {address} is not reachable; writing labels without waiting",
                    file=sys.stderr,
                )
                return None
            except ServingCallError:
                states = {}
            failed = [f"version {v}: {states[v][1]}" for v in versions if v in states and states[v][0] == "END"]
            if failed:
                return f"serving could not load {', '.join(failed)}"
            if all(states.get(v, ("",))[0] == "AVAILABLE" for v in versions):
                print(f"serving reports versions {sorted(versions)} AVAILABLE")
                return None
            if time.monotonic() > deadline:
                return f"versions {sorted(versions)} were not AVAILABLE within {timeout_s:.0f} s"
            time.sleep(0.5)
    finally:
        client.close()


def run_list(args: argparse.Namespace) -> int:
    """Print each version on disk with its labels, whether the config loads it and what serving reports."""
    from services.classifier.serving_client import ServingCallError, ServingClient
    from services.contract.tasks import ServingUnavailable

    repo = _repository(args)
    try:
        view = repo.view()
    except DeployError as exc:
        return _fail(str(exc))
    client = ServingClient(args.serving, timeout_s=5.0, attempts=1)
    try:
        served = {v: state for v, state, _ in client.model_status(repo.name)}
        note = ""
    except (ServingUnavailable, ServingCallError) as exc:
        served, note = {}, f"(serving at {args.serving}: {exc})"
    finally:
        client.close()
    by_version: dict[int, list[str]] = {}
    for label, version in view.labels.items():
        by_version.setdefault(version, []).append(label)
    print(f"model {repo.name} in {repo.model_dir}  config {repo.config_file}")
    print(f"{'version':>7}  {'labels':<16} {'config':<8} serving")
    for version in sorted(set(view.on_disk) | set(served), reverse=True):
        labels = ",".join(sorted(by_version.get(version, []))) or "-"
        config = "load" if version in view.policy else "-"
        print(f"{version:>7}  {labels:<16} {config:<8} {served.get(version, '-')}")
    if note:
        print(note)
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1
