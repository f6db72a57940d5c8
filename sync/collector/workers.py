"""Worker processes that never outlive the process that started them."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int, poll_s: float = 0.2) -> None:
    """Pool initializer: exit as soon as `parent` is gone, so a SIGKILLed ingest leaves no workers behind.

    A daemon thread watches the parent pid (a dead parent reparents us). PR_SET_PDEATHSIG is not used: it fires
    when the creating *thread* exits, and pools are started from short-lived threads (the HTTP thread pool)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
