"""``dagster-webserver`` that follows its workspace file without restarting any code server.

The workspace watcher (``repository_manager.workspace --watch``) rewrites the file when a code
location appears, moves to a new task or goes away. Through its API the webserver can pick that
up only with ``reloadWorkspace``, which sends ReloadCode to every location, and each
``dagster code-server start`` then restarts its server process, one location after another: adding
one repository restarted every other repository's code server and took longer with each one
registered. This process runs the same CLI, with every option it has, on a workspace context that
refreshes when the file's content changes (``refresh_workspace``, what the daemon does every 60 s):
it reconnects to each location and restarts none. Locations that cannot be reached yet are
retried by Dagster's own gRPC watch threads.

``python -m dagster_code.webserver --host … --port … --workspace …``
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster_webserver.cli as webserver_cli
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

POLL_S = 1.0
logger = logging.getLogger("dagster-webserver")


def read_files(paths: Sequence[str]) -> tuple[str, ...]:
    """The files' contents; a missing or unreadable file reads as empty."""
    contents = []
    for path in paths:
        try:
            contents.append(Path(path).read_text(encoding="utf-8"))
        except OSError:
            contents.append("")
    return tuple(contents)


class FollowingWorkspaceProcessContext(WorkspaceProcessContext):
    """A workspace context that refreshes itself whenever its workspace files change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        target = kwargs.get("workspace_load_target")
        self._followed = list(target.paths) if isinstance(target, WorkspaceFileTarget) else []
        self._seen = read_files(self._followed)
        self._stop_following = threading.Event()
        self._follower = threading.Thread(
            target=self._follow, name="workspace-file-follower", daemon=True
        )

    def __enter__(self) -> FollowingWorkspaceProcessContext:
        super().__enter__()
        if self._followed:
            self._follower.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop_following.set()
        if self._follower.is_alive():
            self._follower.join(timeout=10)
        super().__exit__(*exc_info)

    def _follow(self) -> None:
        while not self._stop_following.wait(POLL_S):
            current = read_files(self._followed)
            if current == self._seen:
                continue
            self._seen = current
            try:
                self.refresh_workspace()
            except Exception:
                logger.exception("refreshing the workspace after its file changed failed")
                continue
            names = sorted(self.get_current_workspace().code_location_entries)
            logger.info(f"workspace file changed: refreshed {', '.join(names) or 'no locations'}")


def main() -> None:
    if getattr(webserver_cli, "WorkspaceProcessContext", None) is not WorkspaceProcessContext:
        raise SystemExit(
            "error: this dagster-webserver no longer builds its workspace context through "
            "dagster_webserver.cli.WorkspaceProcessContext; update dagster_code/webserver.py"
        )
    setattr(webserver_cli, "WorkspaceProcessContext", FollowingWorkspaceProcessContext)  # noqa: B010
    webserver_cli.main()


if __name__ == "__main__":
    main()
