"""Terminal configuration: terminal.toml (every section) and the event key file. The bottom of the terminal."""

from terminal.config.devices import QR_FIELDS, GpioSection, PrinterSection, UiSection
from terminal.config.keys import (
    DESFIRE_KEY_SIZES,
    MODE_ROLES,
    ROLE_KEYS,
    EventKeys,
    check_key_permissions,
    desfire_for_mode,
    epochs_section,
    load_keys,
    new_desfire_keys,
    new_keys_text,
    role_keys_text,
    role_limited,
    write_secret_file,
)
from terminal.config.model import (
    CameraSection,
    CollectorSection,
    Config,
    ConfigError,
    EventSection,
    LimitsSection,
    PathsSection,
    ReaderSection,
    TerminalSection,
    load_config,
    write_config,
)

__all__ = [
    "DESFIRE_KEY_SIZES", "MODE_ROLES", "QR_FIELDS", "ROLE_KEYS", "CameraSection", "CollectorSection", "Config",
    "ConfigError", "EventKeys", "EventSection", "GpioSection", "LimitsSection", "PathsSection", "PrinterSection",
    "ReaderSection", "TerminalSection", "UiSection", "check_key_permissions", "desfire_for_mode", "epochs_section",
    "load_config",
    "load_keys", "new_desfire_keys", "new_keys_text", "role_keys_text", "role_limited", "write_config",
    "write_secret_file",
]
