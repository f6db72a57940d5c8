"""Hardware self-test: is this terminal ready for the gate? One line per part, pass / fail / skip.

The technician runs it after provisioning (`stallpay selftest`), the admin
screen shows the same lines (`run_selftest(...)` -> `as_dict`). A part that
is not configured is skipped, never failed: a terminal without a camera takes
cards all the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from terminal.config import Config, ConfigError, check_key_permissions, load_keys

Result = Literal["pass", "fail", "skip"]
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
COLLECTOR_ENV = Path("/etc/stallpay/collector.env")
MIN_FREE_BYTES = 200 * 1024 * 1024


@dataclass
class Check:
    name: str
    result: Result
    detail: str
    seconds: float = 0.0


@dataclass
class SelftestOptions:
    card_timeout_s: float = 10.0
    card: bool = True  # ask for a card to be presented and read it
    print_page: bool = True
    collector_url: str | None = None  # None = from collector.env next to the configuration, or /etc/stallpay
    timesync_flag: Path = TIMESYNC_FLAG
    min_free_bytes: int = MIN_FREE_BYTES
    gpio_factory: object | None = None  # a gpiozero pin factory (tests); default from [gpio] backend
    only: tuple[str, ...] = ()  # run only these checks (names), e.g. from the admin screen
    extra: dict[str, Callable[[Config], Check]] = field(default_factory=dict)


# --- the checks ----------------------------------------------------------------------------------------------


def check_reader(config: Config, options: SelftestOptions) -> Check:
    from terminal.nfc.ntag import identify
    from terminal.nfc.reader import ReaderError
    from terminal.station import open_configured_reader
    from terminal.wallet.card import CardError

    try:
        reader, _ = open_configured_reader(config)
    except (ReaderError, CardError) as exc:
        return Check("reader", "fail", str(exc))
    try:
        name = reader.name
        if config.reader.backend == "pcsc":
            reader._resolve()  # type: ignore[attr-defined]  # raises with what pcscd lists when ours is absent
            name = reader.name
        if not options.card:
            return Check("reader", "pass", f"{name} present (card read not requested)")
        try:
            connection = reader.wait_for_card(options.card_timeout_s)
        except CardError as exc:
            return Check("reader", "fail", f"{name} present, but no card read: {exc}")
        try:
            tag = identify(connection)
            uid = tag.uid.hex().upper()
            product = tag.layout.product if hasattr(tag.layout, "product") else type(tag.layout).__name__
        finally:
            connection.close()
        return Check("reader", "pass", f"{name}: card {uid} ({product}) read")
    except (ReaderError, CardError) as exc:
        return Check("reader", "fail", str(exc))
    finally:
        reader.close()


def test_page(width_mm: int) -> bytes:
    """A short ESC/POS page: init, centred title, a ruler showing the printable width, time, cut."""
    columns = 48 if width_mm == 80 else 32
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = (b"\x1b@" + b"\x1ba\x01" + b"\x1b!\x30StallPay\n" + b"\x1b!\x00printer self-test\n\x1ba\x00"
            + ("0123456789" * 5)[:columns].encode() + b"\n" + now.encode() + b"\n\n\n\n" + b"\x1dV\x42\x00")
    return body


def _png_page() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("L", (384, 120), 255)
    ImageDraw.Draw(img).text((10, 10), "StallPay printer self-test", fill=0)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def check_printer(config: Config, options: SelftestOptions) -> Check:
    from terminal.printer.target import PrinterUrlError, open_target
    from terminal.printer.transport import NotSupported, PrinterProblem

    url = config.printer.url
    if not url:
        return Check("printer", "skip", "not configured (receipts are saved as PNG previews)")
    try:
        transport = open_target(url)
    except PrinterUrlError as exc:
        return Check("printer", "fail", str(exc))
    try:
        transport.open()
        status = None
        if transport.can_read and config.printer.status:
            try:
                status = transport.status()
            except NotSupported:
                status = None
            if status is not None and status.problem is not None:
                return Check("printer", "fail", f"{transport.describe()}: {status.problem.replace('_', ' ')}")
        if options.print_page:
            transport.write(_png_page() if transport.format == "png" else test_page(config.printer.width),
                            label="selftest")
        said = "status ok" if status is not None else "no status from this printer"
        page = ", test page printed" if options.print_page else ""
        return Check("printer", "pass", f"{transport.describe()}: {said}{page}")
    except PrinterProblem as exc:
        return Check("printer", "fail", f"{transport.describe()}: {exc}")
    except OSError as exc:
        return Check("printer", "fail", f"{transport.describe()}: {exc.strerror or exc}")
    finally:
        with contextlib.suppress(OSError, PrinterProblem):
            transport.close()


def check_camera(config: Config, options: SelftestOptions) -> Check:
    """A frame from the configured camera, and a face found in it (the technician looks at the camera)."""
    source = config.camera.source
    if not source:
        return Check("camera", "skip", "not configured")
    spec = source
    if not (source == "picamera" or source.isdigit()):
        path = Path(source)
        if not path.is_absolute() and config.source is not None:
            spec = str(config.source.parent / path)
    try:
        from terminal.camera.frames import CameraError, open_source
        from terminal.camera.landmarks import FaceFinder, FaceStackMissing
    except ImportError as exc:
        return Check("camera", "fail", f"face pay software not installed ({exc})")
    with open_source(spec) as camera:
        status = camera.status()
        if not status.usable:
            return Check("camera", "fail", f"{status.state}: {status.detail}")
        try:
            frame = camera.read()
        except CameraError as exc:
            return Check("camera", "fail", f"{spec}: no frame ({exc})")
    height, width = frame.image.shape[:2]
    try:
        finder = FaceFinder(video=False)
    except FaceStackMissing as exc:
        return Check("camera", "fail", f"frame {width}x{height}, but face detection is unavailable ({exc})")
    try:
        faces = finder.detect(frame.image)
    finally:
        finder.close()
    if not faces:
        return Check("camera", "fail", f"frame {width}x{height} read, no face detected: look at the camera")
    return Check("camera", "pass", f"frame {width}x{height}, {len(faces)} face(s) detected")


def check_gpio(config: Config, options: SelftestOptions) -> Check:
    from terminal.gpio import Feedback, make_factory

    if not config.gpio.enabled:
        return Check("leds+buzzer", "skip", "disabled in [gpio]")
    try:
        factory = options.gpio_factory or make_factory(config.gpio.backend)
        feedback = Feedback(config.gpio, pin_factory=factory)
    except Exception as exc:  # gpiozero raises many kinds (BadPinFactory, PinInUse, ...)
        return Check("leds+buzzer", "fail", f"cannot open pins: {exc}")
    try:
        wrong = []
        for label, device in (("green LED", feedback.green), ("red LED", feedback.red),
                              ("buzzer", feedback.buzzer)):
            device.on()
            on = device.value
            device.off()
            if not on or device.value:
                wrong.append(label)
        if wrong:
            return Check("leds+buzzer", "fail", f"pins do not follow: {', '.join(wrong)}")
        kind = "mock pins" if feedback.mock else "look and listen: green, red, beep"
        pins = f"green {config.gpio.green_led}, red {config.gpio.red_led}, buzzer {config.gpio.buzzer}"
        return Check("leds+buzzer", "pass", f"{pins} switched ({kind})")
    finally:
        feedback.close()


def _kernel_clock_synced() -> bool | None:
    """adjtimex(2) with no changes: TIME_ERROR (5) means the kernel clock is not synchronised."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes = 0 reads only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != 5


def check_clock(config: Config, options: SelftestOptions) -> Check:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if options.timesync_flag.exists():
        return Check("clock", "pass", f"{now}, synchronised (systemd-timesyncd)")
    synced = _kernel_clock_synced() if options.timesync_flag == TIMESYNC_FLAG else False
    if synced:
        return Check("clock", "pass", f"{now}, synchronised (kernel)")
    return Check("clock", "fail", f"{now}, NOT synchronised: a Pi has no battery clock; connect to the collector "
                                  f"or a network with NTP (entries would be marked unsynced)")


def check_disk(config: Config, options: SelftestOptions) -> Check:
    where = config.data_dir
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_mb = usage.free // (1024 * 1024)
    if usage.free < options.min_free_bytes:
        return Check("disk", "fail", f"{where}: only {free_mb} MB free (need {options.min_free_bytes // 2**20} MB)")
    return Check("disk", "pass", f"{where}: {free_mb} MB free of {usage.total // (1024 * 1024)} MB")


def check_keys(config: Config, options: SelftestOptions) -> Check:
    path = config.keys_path
    try:
        check_key_permissions(path)
        keys = load_keys(path, config.event.id)
    except FileNotFoundError:
        return Check("keys", "fail", f"{path}: key file missing (pair the terminal: stallpay provision pair)")
    except ConfigError as exc:
        return Check("keys", "fail", str(exc))
    st = path.stat()
    if os.geteuid() == 0 and st.st_uid == 0:
        import pwd

        try:
            pwd.getpwnam("stallpay")
        except KeyError:
            pass
        else:
            return Check("keys", "fail", f"{path}: owned by root, the service user stallpay cannot read it; "
                                         f"run 'chown stallpay:stallpay {path}'")
    from terminal.key_file_seal import describe

    return Check("keys", "pass", f"{path}: event {keys.event_id}, mode {st.st_mode & 0o777:o}, readable by owner "
                                 f"only; {describe(path)}")


def _collector_url(config: Config, options: SelftestOptions) -> str:
    if options.collector_url is not None:
        return options.collector_url
    candidates = [COLLECTOR_ENV]
    if config.source is not None:
        candidates.insert(0, config.source.parent / "collector.env")
    for env in candidates:
        try:
            for line in env.read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "STALLPAY_COLLECTOR_URL":
                    return value.strip().strip('"')
        except OSError:
            continue
    return ""


def check_collector(config: Config, options: SelftestOptions) -> Check:
    import httpx

    url = _collector_url(config, options)
    if not url:
        return Check("collector", "skip", "not configured (USB sync only)")
    try:
        resp = httpx.get(url.rstrip("/") + "/api/v1/time", timeout=3.0)
    except httpx.HTTPError as exc:
        return Check("collector", "fail", f"{url}: not reachable ({type(exc).__name__}: {exc})")
    if resp.status_code != 200:
        return Check("collector", "fail", f"{url}: answered HTTP {resp.status_code}")
    try:
        theirs = datetime.fromisoformat(resp.json()["time"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return Check("collector", "fail", f"{url}: does not look like a StallPay collector")
    skew = abs((theirs - datetime.now(UTC)).total_seconds())
    return Check("collector", "pass", f"{url}: reachable, clocks {skew:.1f} s apart")


CHECKS: tuple[tuple[str, Callable[[Config, SelftestOptions], Check]], ...] = (
    ("reader", check_reader),
    ("printer", check_printer),
    ("camera", check_camera),
    ("leds+buzzer", check_gpio),
    ("clock", check_clock),
    ("disk", check_disk),
    ("keys", check_keys),
    ("collector", check_collector),
)


def run_selftest(config: Config, options: SelftestOptions | None = None) -> list[Check]:
    options = options or SelftestOptions()
    unknown = [n for n in options.only if n not in dict(CHECKS)]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(n for n, _ in CHECKS)}")
    results = []
    for name, check in CHECKS:
        if options.only and name not in options.only:
            continue
        start = time.monotonic()
        try:
            result = check(config, options)
        except Exception as exc:  # one broken part must not hide the others' results
            result = Check(name, "fail", f"unexpected error: {type(exc).__name__}: {exc}")
        result.seconds = round(time.monotonic() - start, 3)
        results.append(result)
    return results


def passed(results: list[Check]) -> bool:
    return all(r.result != "fail" for r in results)


def as_dict(results: list[Check]) -> dict:
    return {"passed": passed(results), "checks": [asdict(r) for r in results]}


def table(results: list[Check]) -> str:
    width = max(len(r.name) for r in results)
    lines = [f"{'CHECK'.ljust(width)}  RESULT  DETAIL"]
    for r in results:
        lines.append(f"{r.name.ljust(width)}  {r.result.upper().ljust(6)}  {r.detail}")
    lines.append("")
    lines.append("SELF-TEST PASSED" if passed(results) else
                 f"SELF-TEST FAILED: {', '.join(r.name for r in results if r.result == 'fail')}")
    return "\n".join(lines)
