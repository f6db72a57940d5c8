"""A real demo terminal (emulated reader, simulator, PNG receipts) served on a free port in a thread.

The demo directory is set up once per session and copied per test, so each
test starts from the same wristbands and an empty journal of sales.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from terminal.commands.demo import open_demo, setup
from terminal.ui.server import bind, create_app, make_server


@dataclass
class DemoServer:
    url: str
    terminal: Any
    dir: Path

    @property
    def kiosk(self) -> Any:
        return self.terminal.kiosk

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def login(self, client: httpx.Client, operator: str, pin: str) -> None:
        answer = client.post("/api/login", json={"operator": operator, "pin": pin})
        assert answer.status_code == 200, answer.text

    def display_headers(self, client: httpx.Client) -> dict[str, str]:
        """What the customer display page on this board is given to answer with (its per-boot token)."""
        found = re.search(r'name="display-token" content="([^"]*)"', client.get("/display").text)
        assert found and found.group(1), "the display page carries no token"
        return {"X-Display-Token": found.group(1)}

    def tap(self, card: str, tear: int | None = None) -> None:
        with self.client() as c:
            assert c.post("/sim/api/tap", json={"card": card, "tear": tear}).json()["handled"]

    def commits(self, op: str) -> list[dict[str, Any]]:
        return [e for e in self.kiosk.journal.entries() if e["op"] == op and e["phase"] == "commit"
                and e["operator"] != "setup"]


@pytest.fixture(scope="session")
def face_pipeline() -> Iterator[Any]:
    """The face models, loaded once for every demo terminal of the session (about a second each otherwise)."""
    from terminal.camera.embedding import SFaceEmbedder
    from terminal.camera.pipeline import FacePipeline

    pipeline = FacePipeline(embedder=SFaceEmbedder(None))
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, face_pipeline: Any) -> Path:
    folder = tmp_path_factory.mktemp("demo-template") / "demo"
    setup(folder, face_pipeline=face_pipeline)
    return folder


@contextlib.contextmanager
def serve_demo(config: Path, face_pipeline: Any) -> Iterator[DemoServer]:
    """The demo terminal of `config` served on a free port in a thread, until the block ends."""
    terminal = open_demo(config, face_pipeline=face_pipeline)
    app = create_app(terminal)
    sock = bind("127.0.0.1", 0)
    server = make_server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert app.state.ready.wait(15), "terminal did not start"
    host, port = sock.getsockname()[:2]
    try:
        yield DemoServer(f"http://{host}:{port}", terminal, config.parent)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path, face_pipeline: Any) -> Iterator[DemoServer]:
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    with serve_demo(folder / "terminal.toml", face_pipeline) as server:
        yield server
