"""The `[ui]` section of the terminal configuration: where the kiosk page is served, language, timeouts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LANGUAGES = ("en", "tr", "bg", "zh")


class UiSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="address of the kiosk page; keep it local on a stall")
    port: int = Field(default=8080, ge=1, le=65535)
    language: Literal["en", "tr", "bg", "zh"] = "en"
    idle_logout_s: int = Field(default=300, ge=0, description="log the operator out after this long idle; 0 = never")
    lockout_failures: int = Field(default=5, ge=1, description="wrong PINs before an operator is locked out")
    lockout_s: int = Field(default=300, ge=1)
    result_s: float = Field(default=6.0, gt=0, description="how long an approved / declined screen stays up")
    leave_pending_s: float = Field(default=30.0, ge=0, description="after this long waiting for a band pulled away "
                                   "mid-write, any operator may leave the payment pending (settled at its next tap)")
