"""Terminal benchmark: tap -> approved screen rendered (beyond card I/O), start-up time, resident memory.

Runs the demo terminal (emulated reader) as a subprocess (`stallpay demo`)
for start-up time and memory, once per camera set-up: no camera configured,
and the demo's camera with the face models loaded on first use (the default),
in the background once ready, and eagerly before ready (as before `[camera]
load` existed), so the lazy load is compared with the eager one in the same
run. Memory is read at ready and after card sales, before any face payment.
Then in-process with a real Chromium page for the tap-to-render latency
(`--startup-only` skips it). Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import httpx
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SALES = 40
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


CAMERA_SETUPS: dict[str, dict[str, str] | None] = {
    "no_camera": {"source": ""},
    "camera_first_use": {"load": "first_use"},
    "camera_background": {"load": "background"},
    "camera_eager": {"load": "eager"},
}


def startup_and_memory(template: Path, work: Path, name: str, camera: dict[str, str] | None) -> dict[str, object]:
    folder = work / name
    shutil.copytree(template, folder)
    config_path = folder / "terminal.toml"
    data = tomllib.loads(config_path.read_text())
    has_camera = bool(data.get("camera", {}).get("source"))
    if camera is not None:
        data.setdefault("camera", {}).update(camera)
        config_path.write_text(tomli_w.dumps(data))
    stallpay = Path(sys.executable).parent / "stallpay"
    started = time.perf_counter()
    proc = subprocess.Popen([str(stallpay), "demo", "--dir", str(folder), "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if "running: open" in line:
                url = line.split("open ", 1)[1].split()[0].rstrip("/")
                break
        ready_s = time.perf_counter() - started
        rss_ready, cpu_ready = rss_mb(proc.pid), cpu_s(proc.pid)
        with httpx.Client(base_url=url, timeout=30) as c:
            c.post("/api/login", json={"operator": "1", "pin": "1111"}).raise_for_status()
            for i in range(SALES):
                c.post("/api/cart/amount", json={"amount": "0.50"}).raise_for_status()
                c.post("/api/charge", json={"request_id": f"m{i}"}).raise_for_status()
                c.post("/sim/api/tap", json={"card": "alice" if i % 2 else "carol"}).raise_for_status()
                c.post("/api/dismiss").raise_for_status()
            camera_state = c.get("/api/hardware").json().get("camera")
        return {"camera_configured": bool(has_camera and (camera or {}).get("source", "x")),
                "startup_to_ready_s": round(ready_s, 3), "cpu_s_to_ready": round(cpu_ready, 2),
                "rss_mb_at_ready": round(rss_ready, 1),
                "rss_mb_after_card_sales": round(rss_mb(proc.pid), 1),
                "face_models_loaded": _models_loaded(proc.pid), "camera": camera_state}
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process: start-up cost that does not depend on how busy the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _models_loaded(pid: int) -> bool:
    """Whether the process has mapped mediapipe's native library (the face stack is in memory)."""
    try:
        return "mediapipe" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def tap_to_render(template: Path, work: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from terminal.commands.demo import open_demo
    from terminal.ui.server import bind, create_app, make_server

    folder = work / "inproc"
    shutil.copytree(template, folder)
    terminal = open_demo(folder / "terminal.toml")
    app = create_app(terminal)
    sock = bind("127.0.0.1", 0)
    server = make_server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    app.state.ready.wait(15)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    beyond, io, handled = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 800, "height": 480})
            page.goto(url + "/login")
            page.fill("[data-testid=login-operator]", "1")
            page.fill("[data-testid=login-pin]", "1111")
            page.click("[data-testid=login-submit]")
            page.wait_for_url(url + "/sale")
            sim = httpx.Client(base_url=url, timeout=10)
            for i in range(SALES):
                page.evaluate("fetch('/api/cart/amount', {method: 'POST', headers: {'Content-Type': "
                              "'application/json'}, body: JSON.stringify({amount: '0.50'})})")
                page.wait_for_selector("[data-testid=total]:has-text('0.50')")
                page.click("[data-testid=charge]")
                page.wait_for_selector("body[data-phase=waiting]")
                sim.post("/sim/api/tap", json={"card": "alice" if i % 2 else "carol"}).raise_for_status()
                page.wait_for_selector("body[data-phase=approved]")
                rendered_ms = page.evaluate(
                    "window.stallpay.renders.filter(r => r.phase === 'approved').slice(-1)[0].at")
                timing = terminal.kiosk.timings[-1]
                beyond.append(rendered_ms / 1000 - timing["wall_tap"] - timing["io_s"])
                io.append(timing["io_s"])
                handled.append(timing["handled_s"])
                page.click("#flow .p-approved button")
                page.wait_for_selector("body[data-phase=idle]")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    ms = [x * 1000 for x in beyond]
    return {"tap_to_approved_render_beyond_card_io_ms_median": round(statistics.median(ms), 1),
            "tap_to_approved_render_beyond_card_io_ms_p95": round(sorted(ms)[int(0.95 * len(ms)) - 1], 1),
            "card_io_ms_median": round(statistics.median(io) * 1000, 1),
            "server_handling_ms_median": round(statistics.median(handled) * 1000, 1),
            "samples": len(ms)}


def main() -> None:
    from terminal.commands.demo import setup
    from terminal.printer.profiles_cache import keep_profiles_cached

    keep_profiles_cached()
    import escpos.capabilities  # noqa: F401  (written once, as the first start of an installed terminal does)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup-only", action="store_true", help="skip the Chromium tap-to-render part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = work / "template"
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON
            setup(template)
        figures: dict[str, object] = {"bench": "terminal", "load_average_1m": os.getloadavg()[0],
                                      "cpus": os.cpu_count()}
        if not args.startup_only:
            figures.update(tap_to_render(template, work))
        figures["startup"] = {name: startup_and_memory(template, work, name, camera)
                              for name, camera in CAMERA_SETUPS.items()}
        figures["targets"] = {"tap_to_render_median_ms": 100, "startup_s": 3, "rss_mb_before_first_face_payment": 150}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
