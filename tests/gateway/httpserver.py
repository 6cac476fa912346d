"""A real local HTTP server for URL-fetch and webhook tests: scripted answers, recorded requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What to answer: status, headers, body, and an optional delay before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class LocalServer:
    """Routes map a path to a Reply or to a function of the request giving one."""

    port: int
    routes: dict[str, Reply | Callable[[Recorded], Reply]]
    received: list[Recorded]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def local_server(routes: dict[str, Reply | Callable[[Recorded], Reply]] | None = None) -> Iterator[LocalServer]:
    """Serve ``routes`` on 127.0.0.1 (free port) until the block ends."""
    received: list[Recorded] = []
    table: dict[str, Reply | Callable[[Recorded], Reply]] = dict(routes or {})

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Recorded(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            received.append(request)
            route = table.get(self.path.split("?", 1)[0])
            reply = route(request) if callable(route) else route or Reply(404, b"not found")
            if reply.delay_s:
                time.sleep(reply.delay_s)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalServer(port=server.server_address[1], routes=table, received=received)
    finally:
        server.shutdown()
        server.server_close()
