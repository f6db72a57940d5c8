"""udev rules for the USB devices a terminal uses, and the kernel modules that must keep their hands off them.

Readers go to `plugdev` (pcscd talks to them; the service user is a member),
printers to `lp`; both also get a stable symlink so a technician can see at a
glance what is plugged in (`ls -l /dev/stallpay-*`).
"""

from __future__ import annotations

# (vendor id, product id or "" for every product, what it is)
READERS = (
    ("072f", "2200", "ACS ACR122U"),
    ("072f", "223b", "ACS ACR1252U"),
)
PRINTERS = (
    ("04b8", "", "Epson TM series"),
    ("0519", "", "Star Micronics"),
    ("1504", "", "Bixolon"),
    ("0dd4", "", "Custom"),
    ("154f", "", "SNBC"),
    ("0fe6", "811e", "Rongta / generic ESC/POS"),
    ("0416", "5011", "Xprinter / Winbond generic ESC/POS"),
    ("28e9", "0289", "generic 58 mm ESC/POS"),
)

RULES_PATH = "/etc/udev/rules.d/60-stallpay.rules"
MODPROBE_PATH = "/etc/modprobe.d/stallpay-nfc.conf"


def _match(vid: str, pid: str) -> str:
    return f'ATTR{{idVendor}}=="{vid}"' + (f', ATTR{{idProduct}}=="{pid}"' if pid else "")


def udev_rules() -> str:
    lines = [
        "# StallPay terminal devices (written by 'stallpay provision device'; re-provisioning overwrites it).",
        "# NFC readers: pcscd opens them; group plugdev so the service user may too.",
    ]
    for vid, pid, what in READERS:
        lines.append(f"# {what}")
        lines.append(f'ACTION=="add|change", SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", {_match(vid, pid)}, '
                     f'MODE="0660", GROUP="plugdev", SYMLINK+="stallpay-reader-%k"')
    lines.append("# ESC/POS receipt printers: raw USB (python-escpos) and the usblp device file.")
    for vid, pid, what in PRINTERS:
        lines.append(f"# {what}")
        lines.append(f'ACTION=="add|change", SUBSYSTEM=="usb", ENV{{DEVTYPE}}=="usb_device", {_match(vid, pid)}, '
                     f'MODE="0660", GROUP="lp"')
        parent = f'ATTRS{{idVendor}}=="{vid}"' + (f', ATTRS{{idProduct}}=="{pid}"' if pid else "")
        lines.append(f'ACTION=="add|change", SUBSYSTEM=="usbmisc", KERNEL=="lp[0-9]*", {parent}, '
                     f'MODE="0660", GROUP="lp", SYMLINK+="stallpay-printer"')
    return "\n".join(lines) + "\n"


def modprobe_blacklist() -> str:
    """The kernel's NFC stack claims an ACR122U before pcscd can; keep it away."""
    return (
        "# StallPay: the ACR122U must be driven by pcscd (libccid), not the kernel NFC stack.\n"
        "blacklist pn533_usb\nblacklist pn533\nblacklist nfc\n"
    )
