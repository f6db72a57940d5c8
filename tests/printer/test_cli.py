from __future__ import annotations

from terminal.cli import main
from tests.printer.escpos_reader import decode


def test_sample_of_every_kind_to_png(tmp_path, capsys) -> None:
    assert main(["receipt", "sample", "all", "--printer", f"png:{tmp_path}", "--lang", "zh", "--width", "58"]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 6
    assert "printed 6 sample receipt(s)" in capsys.readouterr().out


def test_sample_to_a_network_printer(printer_server) -> None:
    assert main(["receipt", "sample", "day", "--printer", printer_server.url]) == 0
    out = decode(printer_server.wait_jobs(1)[0], "TM-T20II")
    assert "END OF DAY REPORT" in "\n".join(out.text) and out.cuts == 1


def test_printer_without_paper_fails_with_one_line(printer_server, capsys) -> None:
    printer_server.paper = False
    assert main(["receipt", "sample", "sale", "--printer", printer_server.url]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "out of paper" in err[0]


def test_bad_printer_url_and_profile(capsys) -> None:
    assert main(["receipt", "sample", "sale", "--printer", "lpt://1"]) == 2
    assert "unknown printer" in capsys.readouterr().err
    assert main(["receipt", "sample", "sale", "--printer", "png:x", "--profile", "Nope"]) == 2
    assert "unknown printer profile" in capsys.readouterr().err
