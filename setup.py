"""StallPay: offline-first payment terminal firmware and its collector."""

from setuptools import find_packages, setup

setup(
    name="stallpay",
    version="0.1.0",
    description="Offline-first payment terminals on a Raspberry Pi, and the service they sync with",
    python_requires=">=3.11",
    packages=find_packages(include=["terminal", "terminal.*", "sync", "sync.*", "provisioning", "provisioning.*"]),
    include_package_data=True,
    package_data={"terminal": ["locale/*/LC_MESSAGES/*.mo", "ui/templates/*", "ui/static/*"]},
    install_requires=[
        "cryptography>=42",
        "pyscard>=2.0",
        "sqlite-utils>=3.36",
        "babel>=2.14",
        "pydantic>=2.6",
        "tomli-w>=1.0",
        "ecdsa>=0.18",
        "fastapi>=0.110",
        "uvicorn>=0.29",
        "httpx>=0.27",
        "psycopg[binary]>=3.1",
        "orjson>=3.9",
        "jinja2>=3.1",
        "python-escpos[usb,serial]>=3.1",
        "Pillow>=10",
        "qrcode>=7.4",
        "gpiozero>=2.0",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "ruff>=0.5",
            "schemathesis>=3.27",
            "playwright>=1.44",
        ],
    },
    entry_points={"console_scripts": ["stallpay=terminal.cli:main"]},
)
