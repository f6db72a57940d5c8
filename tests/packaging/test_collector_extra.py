"""The collector installs and runs from the package with its `[collector]` extra, in a fresh venv, without the
terminal's stack.

No pyscard, OpenCV or mediapipe there: the venv's own console script `stallpay-collector` creates the
books, ingests a batch written by the terminal's code (in this test process), reports, and serves HTTP
(the API and the back office's templates and static files). pip resolves `stallpay[collector]` against the
machine's package index (no stub, no pinned mirror); only the build of the wheel itself uses this venv's
setuptools, which saves a throw-away build environment per run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sync.format.keys import public_hex
from terminal.uplink.export import export_to_dir
from tests.sync.journals import EVENT, configured_terminal

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("smartcard", "cv2", "mediapipe")
# what the package build needs of the tree (setup.py's packages and data); tests and benchmarks stay behind
SKIP = shutil.ignore_patterns(".git", ".venv", "tests", "bench", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".ruff_cache", ".hypothesis", "artifacts", "demo-data", "event")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the repo's package and its `[collector]` extra.

    The wheel is what `pip install .` builds (setup.py's build, catalogues compiled), made here with this venv's
    setuptools instead of a throw-away build environment; pip (this venv's, `--python`) then installs
    `stallpay[collector]` from it and everything else from the package index."""
    base = tmp_path_factory.mktemp("collector-extra")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(base / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((base / "dist").glob("stallpay-*.whl"))
    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
                           "--quiet", "--disable-pip-version-check", f"stallpay[collector] @ {wheel.as_uri()}"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return env_dir


def collector(venv: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv's install, not this checkout
    return subprocess.run([str(venv / "bin" / "stallpay-collector"), *args], capture_output=True, text=True,
                          input=stdin, env=env, cwd=venv, timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_time(url: str, proc: subprocess.Popen, log: Path, deadline_s: float = 30) -> dict:
    """GET /api/v1/time until it answers, the server dies, or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"collector serve exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/time", timeout=1) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)  # polling interval, bounded by the deadline above
    raise AssertionError(f"collector serve not ready within {deadline_s} s:\n{log.read_text()}")


def test_the_terminal_stack_is_not_installed(venv: Path) -> None:
    probe = ("import importlib.util, json; "
             f"print(json.dumps({{m: importlib.util.find_spec(m) is not None for m in {HEAVY!r}}}))")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                          cwd=venv, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == dict.fromkeys(HEAVY, False)
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import sync; print(sync.__file__)"],
                           capture_output=True, text=True, cwd=venv, timeout=60,
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert where.stdout.strip().startswith(str(venv))  # the installed package, not this checkout


def test_collector_init_serve_ingest_report(venv: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "books.db")
    cfg, term = configured_terminal(tmp_path, 7)
    term.book("issue", 1, 5000, method="cash")
    term.book("sale", 1, 1250, items=[{"id": "p1", "name": "Tea", "price": 1250, "qty": 1}])
    usb = tmp_path / "usb"
    assert len(export_to_dir(term.journal, term.key, usb)) == 1

    done = collector(venv, "init", "--db", db, "--event-id", EVENT)
    assert done.returncode == 0, done.stderr
    done = collector(venv, "enroll", "--db", db, "--terminal", "7", "--public-key", public_hex(term.key),
                     "--role", "cashier", "--vendor", "Grill")
    assert done.returncode == 0, done.stderr
    done = collector(venv, "ingest", "--db", db, "--quiet", str(usb))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new_entries"] == 4

    done = collector(venv, "report", "summary", "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert (s["deposited"], s["spent"], s["outstanding"], s["entries"]) == (5000, 1250, 3750, 4)
    assert s["books_balance"] is True and s["money_anomalies"] == 0

    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(venv / "bin" / "stallpay-collector"), "serve", "--db", db,
                                 "--keys", str(cfg.parent / "keys.toml"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, cwd=venv,
                                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    try:
        answer = wait_for_time(f"http://127.0.0.1:{port}", proc, log)
        # the back office's templates, catalogues and static files were installed with the package
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as resp:
            login = resp.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/office/office.css", timeout=10) as resp:
            css = resp.status
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert isinstance(answer.get("time"), str) and answer["time"].endswith("Z")
    assert "<form" in login and 'name="password"' in login and css == 200
