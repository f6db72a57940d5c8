"""`stallpay serve --config FILE`: run the terminal (card loop, kiosk page, customer display) and, when
`[collector] url` is set, the background upload to the collector (stopped with the rest on shutdown)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from terminal.config import ConfigError, load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the terminal: card loop and the kiosk web UI on 127.0.0.1")
    p.add_argument("--config", required=True, type=Path, help="terminal.toml")
    p.add_argument("--host", help="override [ui] host")
    p.add_argument("--port", type=int, help="override [ui] port (0 = any free port)")
    p.set_defaults(func=run, log_default="info")  # a service: its info lines belong in the journal


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"stallpay serve: {exc}", file=sys.stderr)
        return 2
    from terminal.operators import OperatorStore
    from terminal.ui.server import bind, create_app
    from terminal.ui.server import run as serve
    from terminal.wiring import open_terminal

    if OperatorStore(config.data_dir / "operators.db").count() == 0:
        print("stallpay serve: no operators yet; add a supervisor with "
              f"'stallpay operator add --config {args.config} --id 9 --role supervisor'", file=sys.stderr)
        return 2
    host = args.host or config.ui.host
    port = config.ui.port if args.port is None else args.port
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"stallpay serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 3  # the exit-code table's DEVICE: the port is in use
    try:
        terminal = open_terminal(args.config)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"stallpay serve: {exc}", file=sys.stderr)
        return 2
    from terminal.sdnotify import Watchdog, notify

    url = _url(sock)
    watchdog = Watchdog(lambda: terminal.card_loop.alive)

    client = terminal.kiosk.collector  # the background sync loop runs with the card loop when [collector] url is set
    syncing = f"; syncing with {client.url} every {config.collector.sync_interval_s:g} s" if client else \
        "; no collector configured (USB sync only)"

    def ready() -> None:
        print(f"ready: {url}", flush=True)
        print(f"stallpay serve: {url}{syncing}", file=sys.stderr, flush=True)
        notify(f"READY=1\nSTATUS=serving {url}{syncing}")
        watchdog.start()
        if terminal.kiosk.face is not None:  # the face models load after the till is ready, if configured so
            terminal.kiosk.face.after_ready()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(create_app(terminal), sock, on_ready=ready)
    finally:
        watchdog.stop()
        notify("STOPPING=1")
    return 0


def _url(sock) -> str:  # type: ignore[no-untyped-def]
    host, port = sock.getsockname()[:2]
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
