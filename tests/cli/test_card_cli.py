"""`stallpay init` and `stallpay card ...` as a cashier uses them, on the configured emulated wristband."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from terminal.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    data = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return code, data, err


@pytest.fixture
def config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["init", "--dir", str(tmp_path), "--event", "fest", "--terminal", "3", "--mode", "cashier"]) == 0
    capsys.readouterr()
    return str(tmp_path / "terminal.toml")


def test_init_writes_config_and_private_keys(tmp_path: Path, config: str) -> None:
    keys = tmp_path / "keys.toml"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert "master_key" in keys.read_text()
    assert "master_key" not in Path(config).read_text()


def test_card_life_through_the_cli(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = run(capsys, "card", "issue", "--config", config, "--amount-minor", "2500", "--json")
    assert code == 0 and data["balance"] == 2500 and data["status"] == "active"
    card_id = data["card_id"]
    code, data, _ = run(capsys, "card", "topup", "--config", config, "--amount-minor", "500", "--method", "card",
                        "--json")
    assert code == 0 and data["balance"] == 3000
    code, data, _ = run(capsys, "card", "charge", "--config", config, "--amount-minor", "1200", "--json")
    assert code == 0 and data["balance"] == 1800 and data["card_id"] == card_id
    code, data, _ = run(capsys, "card", "void", "--config", config, "--json")
    assert code == 0 and data["balance"] == 3000
    code, data, err = run(capsys, "card", "charge", "--config", config, "--amount-minor", "5000", "--json")
    assert code == 1 and data["error"] == "insufficient_funds" and data["missing"] == 2000
    assert "missing" in err and len(err.strip().splitlines()) == 1
    code, data, _ = run(capsys, "card", "close", "--config", config, "--json")
    assert code == 0 and data["balance"] == 0 and data["status"] == "closed" and data["refund"] == 3000
    code, data, _ = run(capsys, "card", "read", "--config", config, "--json")
    assert code == 0 and data["status"] == "closed" and data["sequence"] == 5
    code, data, _ = run(capsys, "card", "charge", "--config", config, "--amount-minor", "1", "--json")
    assert code == 1 and data["error"] == "closed"


def test_plain_text_output(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", "issue", "--config", config, "--amount-minor", "1050"]) == 0
    assert "€10.50" in capsys.readouterr().out


def test_blank_card_read_is_a_clear_refusal(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, err = run(capsys, "card", "read", "--config", config, "--json")
    assert code == 1 and data["error"] == "blank" and "not been issued" in err


def test_charge_without_amount(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "card", "charge", "--config", config)
    assert code == 2 and "--amount (or --amount-minor) is required" in err


def test_keys_readable_by_others_refuse_to_start(tmp_path: Path, config: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    os.chmod(tmp_path / "keys.toml", 0o644)
    code, _, err = run(capsys, "card", "read", "--config", config)
    assert code == 2 and "chmod 600" in err and "master_key" not in err


@pytest.mark.parametrize(("text", "message"), [
    ("this is = not [toml", "not valid TOML"),
    ("[event]\nid = 'x'\n", "terminal: Field required"),
    ("[event]\nid = 'x'\ncurrency = 'euro'\n[terminal]\nid = 1\n", "event.currency"),
    ("[event]\nid = 'x'\n[terminal]\nid = 0\n", "terminal.id"),
    ("[event]\nid = 'x'\n[terminal]\nid = 1\n[limits]\nmax_sale = 1.5\n", "limits.max_sale"),
    ("[event]\nid = 'x'\n[terminal]\nid = 1\nvendorr = 'typo'\n", "terminal.vendorr"),
])
def test_corrupt_config_is_named_precisely(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                           message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, _, err = run(capsys, "card", "read", "--config", str(path))
    assert code == 2 and message in err and str(path) in err


def test_missing_config_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "card", "read", "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "stallpay init" in err


def test_keys_for_another_event_are_refused(tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    assert main(["init", "--dir", str(other), "--event", "another"]) == 0
    cfg = Path(config).read_text().replace(str(tmp_path / "keys.toml"), str(other / "keys.toml"))
    cfg = cfg.replace('keys = "keys.toml"', f'keys = "{other / "keys.toml"}"')
    Path(config).write_text(cfg)
    capsys.readouterr()
    code, _, err = run(capsys, "card", "read", "--config", config)
    assert code == 2 and "another" in err


def test_init_with_existing_event_keys(tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]) -> None:
    second = tmp_path / "t2"
    assert main(["init", "--dir", str(second), "--terminal", "4", "--keys", str(tmp_path / "keys.toml")]) == 0
    text = (second / "terminal.toml").read_text()
    assert 'id = "fest"' in text and (second / "keys.toml").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("typed", "minor"), [("12.50", 1250), ("12", 1200), ("0,75", 75), ("1 00", 10000)])
def test_amount_is_read_in_major_units(config: str, capsys: pytest.CaptureFixture[str], typed: str,
                                       minor: int) -> None:
    code, data, _ = run(capsys, "card", "issue", "--config", config, "--amount", typed, "--json")
    assert code == 0 and data["balance"] == minor


@pytest.mark.parametrize(("args", "message"), [
    (["--amount", "12.505"], "more than 2 decimals"),
    (["--amount", "twelve"], "not an amount"),
    (["--amount", "-3"], "must not be negative"),
    (["--amount-minor", "-3"], "must not be negative"),
])
def test_bad_amount_is_a_usage_error_and_touches_nothing(config: str, capsys: pytest.CaptureFixture[str],
                                                        args: list[str], message: str) -> None:
    assert run(capsys, "card", "issue", "--config", config, "--amount", "5", "--json")[0] == 0
    code, data, err = run(capsys, "card", "topup", "--config", config, *args, "--json")
    assert code == 2 and data["error"] == "invalid_amount" and message in err
    code, data, _ = run(capsys, "card", "read", "--config", config, "--json")
    assert code == 0 and data["balance"] == 500 and data["sequence"] == 1


def test_amount_and_amount_minor_are_exclusive(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["card", "charge", "--config", config, "--amount", "1", "--amount-minor", "100"])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
