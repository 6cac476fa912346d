"""Run the local TF Serving stand-in: ``python -m deploy.local.serving [--port P] [--model-config-file F]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from deploy.local.serving.config import ConfigError, config_from_base_path, read_config_file
from deploy.local.serving.grpc_api import make_server
from deploy.local.serving.registry import ModelRegistry
from services.contract.settings import get_settings

log = logging.getLogger("deploy.local.serving")


class ConfigPoller:
    """Re-reads ``models.config`` (or re-scans the base path) and version folders every ``interval`` s."""

    def __init__(self, registry: ModelRegistry, config_file: Path, base_path: Path) -> None:
        self.registry = registry
        self.config_file = config_file
        self.base_path = base_path
        self._last_text: str | None = None

    def poll(self) -> None:
        """Apply a changed config file; otherwise pick up new or removed version folders."""
        if not self.config_file.is_file():
            self._apply(config_from_base_path(self.base_path), "model base path " + str(self.base_path))
            return
        text = self.config_file.read_text()
        if text == self._last_text:
            self.registry.reconcile()
            return
        self._last_text = text
        try:
            self._apply(read_config_file(self.config_file), str(self.config_file))
        except ConfigError as exc:
            log.error("keeping the previous config: %s", exc)

    def _apply(self, config: object, source: str) -> None:
        before = self.registry.config
        self.registry.apply_config(config)  # type: ignore[arg-type]
        if before != config:
            names = [m.name for m in config.model_config_list.config]  # type: ignore[attr-defined]
            log.info("config from %s applied: models %s", source, names)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT."""
    settings = get_settings()
    default_host, default_port = settings.serving_address.rsplit(":", 1)
    parser = argparse.ArgumentParser(prog="python -m deploy.local.serving", description=__doc__)
    parser.add_argument("--host", default=default_host, help="address to bind (host of FAKEWEB_SERVING_ADDRESS)")
    parser.add_argument("--port", type=int, default=int(default_port), help="port (from FAKEWEB_SERVING_ADDRESS)")
    parser.add_argument("--model-config-file", type=Path, default=settings.resolved_model_config_file)
    parser.add_argument("--model-base-path", type=Path, default=settings.model_base_path)
    parser.add_argument("--poll-seconds", type=float, default=settings.model_config_poll_s)
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s serving %(levelname)s %(message)s", force=True
    )

    registry = ModelRegistry()
    poller = ConfigPoller(registry, args.model_config_file.resolve(), args.model_base_path.resolve())
    poller.poll()
    server, port = make_server(registry, f"{args.host}:{args.port}", args.model_config_file.resolve().parent)
    server.start()
    log.info("TF Serving stand-in listening on %s:%d (config %s)", args.host, port, args.model_config_file)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(args.poll_seconds):
        try:
            poller.poll()
        except Exception:  # keep serving what is loaded
            log.exception("poll failed")
    log.info("stopping")
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
