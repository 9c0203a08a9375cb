"""Task metadata v4 and container credentials endpoints, one HTTP server for all tasks.

Each container gets ``ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:PORT/v4/<token>`` and,
when its task has a role, ``AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/creds/<token>``
(botocore accepts plain http on loopback). Tokens are random per container/task, so a task
cannot read another task's credentials by guessing a path.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class MetadataSource(Protocol):
    """What the endpoints answer, by a container's token; ``None``: unknown token (404)."""

    def container_metadata(self, token: str) -> dict[str, Any] | None: ...
    def task_metadata(self, token: str) -> dict[str, Any] | None: ...
    def container_stats(self, token: str) -> dict[str, Any] | None: ...
    def task_stats(self, token: str) -> dict[str, Any] | None: ...
    def credentials(self, token: str) -> dict[str, Any] | None: ...


class MetadataServer:
    """Binds at construction (so the port is known before any task is configured) and answers
    from the source given to :meth:`start`."""

    def __init__(self, port: int) -> None:
        routes: dict[str, Callable[[str], dict[str, Any] | None]] = {}
        self._routes = routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                payload: Any = None
                try:
                    if len(parts) == 2 and parts[0] == "v4":
                        payload = routes["container"](parts[1])
                    elif len(parts) == 3 and parts[0] == "v4" and parts[2] == "task":
                        payload = routes["task"](parts[1])
                    elif len(parts) == 3 and parts[0] == "v4" and parts[2] == "stats":
                        payload = routes["stats"](parts[1])
                    elif parts[:1] == ["v4"] and parts[2:] == ["task", "stats"]:
                        payload = routes["task-stats"](parts[1])
                    elif len(parts) == 2 and parts[0] == "creds":
                        payload = routes["creds"](parts[1])
                except Exception as error:
                    self._send(500, {"code": "InternalError", "message": str(error)})
                    return
                if payload is None:
                    self._send(404, {"code": "NotFound", "message": "unknown task or container"})
                else:
                    self._send(200, payload)

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="metadata", daemon=True
        )

    def start(self, source: MetadataSource) -> None:
        self._routes.update(
            {
                "container": source.container_metadata,
                "task": source.task_metadata,
                "stats": source.container_stats,
                "task-stats": source.task_stats,
                "creds": source.credentials,
            }
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
