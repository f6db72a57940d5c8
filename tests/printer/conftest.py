from __future__ import annotations

from pathlib import Path

import pytest

from tests.printer.printer_server import PrinterServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "receipts"


@pytest.fixture
def printer_server():
    server = PrinterServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
