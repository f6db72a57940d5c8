"""The organizer's back office and the guest's portal, served by `stallpay collector serve` at / and /portal."""

from sync.collector.backoffice.app import mount

__all__ = ["mount"]
