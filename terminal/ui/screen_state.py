"""What every screen shows, made from the till: the flow with its words, the cart, the balance view, the
operator, settings, devices, the last movements. Published as one event after each change.

Results are re-read from the committed journal entry, not from memory, and
every amount gets its formatted twin (`*_fmt`) in the screen's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from terminal.app.card_desk import printed_id
from terminal.app.flow import Phase
from terminal.ui.i18n import N_, when, when_short
from terminal.ui.screen_text import DECLINE_TEXT, KIND_TEXT, MONEY_KEYS, MONEY_OPS, NOTICE_TEXT, OP_TEXT

if TYPE_CHECKING:
    from terminal.app.till import Till


def screen_state(till: Till) -> dict[str, Any]:
    """The whole state (called with the till's lock held)."""
    words = ScreenWords(till)
    flow = till.flow.snapshot()
    flow["result"] = words.journal_truth(flow["result"])
    flow["text"] = words.flow_text(flow)
    if flow["request"]:
        flow["request"]["amount_fmt"] = till.money(flow["request"]["amount"])
        flow["request"]["kind_text"] = till.tr(KIND_TEXT[flow["request"]["kind"]])
    flow["leave_after_s"] = till.payments.leave_after()
    operator = None
    if till.session is not None:
        operator = {"id": till.session.operator, "name": till.session.name, "role": till.session.role.value}
    return {
        "flow": flow,
        "cart": words.cart(),
        "balance": words.balance(till.balance_view) if till.balance_view else None,
        "balance_view": (till.balance_view or {}).get("serial"),
        "operator": operator,
        "mode": till.mode,
        "language": till.language,
        "receipt_policy": till.receipt_policy,
        "currency": till.currency,
        "printer": {"problem": till.printer_problem, "queued_text": till.hardware.queued_text()},
        "reader": {"ok": till.hardware.reader_ok, "message": till.hardware.reader_message},
        "recent": words.recent(5),
        "demo": till.demo,
        "face": till.face_sale.view() | {"linking": till.face_cashier.linking,
                                         "linked_uid": till.face_cashier.linked_uid,
                                         "consent": till.face_cashier.guest.view()},
        "sync": till.sync_panel.view() if till.sync_panel is not None else None,
    }


class ScreenWords:
    """Formatting of one state: translations, money, times, in the till's language."""

    def __init__(self, till: Till) -> None:
        self.till = till
        self.language = till.language

    def cart(self) -> dict[str, Any]:
        cart, money = self.till.cart, self.till.money
        lines = [{"index": i, "sku": line.sku, "name": line.name, "qty": line.qty,
                  "unit_price_fmt": money(line.unit_price), "total_fmt": money(line.total)}
                 for i, line in enumerate(cart.lines)]
        return {"lines": lines, "total": cart.total, "total_fmt": money(cart.total)}

    def balance(self, view: dict[str, Any]) -> dict[str, Any]:
        """A card read at idle, or why it was refused."""
        out = dict(view)
        decline = out.pop("decline", None)
        if decline is not None:
            out["error"] = self.declined_text(decline["code"], decline["message"], decline["missing"])
            return self.formatted(out)
        out["journal"] = [self._card_line(e) for e in out.get("journal", [])]
        out["status_text"] = self.till.tr(N_("Closed and refunded")) if out.get("status") == "closed" else \
            out.get("status_text", "")  # blocked / replaced (`terminal.app.card_view`)
        return self.formatted(out)

    def declined_text(self, code: str, message: str, missing: int | None) -> str:
        template = DECLINE_TEXT.get(code)
        return self.till.tr(template) % {"missing": self.till.money(missing), "balance": ""} if template else message

    def journal_truth(self, result: dict[str, Any]) -> dict[str, Any]:
        """What the screen shows after a result comes from the committed journal entry, not from memory."""
        journal = self.till.journal
        out = dict(result)
        seq = out.get("journal_seq")
        if isinstance(seq, int):
            entry = journal.get(seq)
            if entry is not None:
                truth = {"op": entry["op"], "amount": entry["amount"], "balance_after": entry["balance_after"],
                         "balance_before": entry["balance_before"], "time": entry["time"],
                         "operator": entry["operator"]}
                # a face sale has no card balance in its entry: the balance left is the account's, kept in result
                out.update({k: v for k, v in truth.items() if v is not None or not k.startswith("balance")})
        if isinstance(out.get("card_id"), int):
            out["printed_id"] = printed_id(out["card_id"])
        if out.get("op") == "void" and isinstance(seq, int):
            out["voids_text"] = self._voids_text(seq)
        return self.formatted(out)

    def flow_text(self, flow: dict[str, Any]) -> dict[str, str]:
        tr = self.till.tr
        text = {"notice": tr(NOTICE_TEXT[flow["notice"]]) if flow["notice"] in NOTICE_TEXT else ""}
        result = flow["result"]
        if flow["phase"] == Phase.DECLINED.value:
            code = result.get("code", "")
            template = DECLINE_TEXT.get(code)
            if template is None:
                text["reason"] = result.get("message", code)
            else:
                missing = result.get("missing")
                due = (flow.get("request") or {}).get("amount")
                balance = due - missing if isinstance(missing, int) and isinstance(due, int) else None
                text["reason"] = tr(template) % {"missing": result.get("missing_fmt", ""),
                                                 "balance": self.till.money(balance)}
        return text

    def recent(self, n: int) -> list[dict[str, Any]]:
        """The last money movements of this terminal, straight from the journal."""
        journal, tr, money = self.till.journal, self.till.tr, self.till.money
        head = journal.head()[0]
        entries = [e for e in journal.entries(after=max(0, head - 6 * n))
                   if e["phase"] == "commit" and e["op"] in MONEY_OPS]
        return [{"seq": e["seq"], "op": e["op"], "op_text": tr(OP_TEXT.get(e["op"], e["op"])),
                 "amount_fmt": money(e["amount"]), "balance_after_fmt": money(e["balance_after"]),
                 "operator": e["operator"], "card_id": e["card_id"],
                 "time_fmt": when_short(e["time"], self.language)} for e in reversed(entries[-n:])]

    def formatted(self, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        for key in MONEY_KEYS:
            if isinstance(out.get(key), int):
                out[f"{key}_fmt"] = self.till.money(out[key])
        if isinstance(out.get("history"), list):
            out["history"] = [self._history_line(h) for h in out["history"]]
        if out.get("time"):
            out["time_fmt"] = when(out["time"], self.language)
        return out

    def _card_line(self, e: dict[str, Any]) -> dict[str, Any]:
        return {"seq": e["seq"], "op_text": self.till.tr(OP_TEXT.get(e["op"], e["op"])),
                "amount_fmt": self.till.money(e["amount"]), "balance_fmt": self.till.money(e["balance_after"]),
                "method": e["method"] or "", "time_fmt": when_short(e["time"], self.language)}

    def _voids_text(self, seq: int) -> str:
        """Which sale a void reversed: its transaction number, time, amount and items."""
        journal = self.till.journal
        entry = journal.get(seq)
        sale = journal.get((entry or {}).get("data", {}).get("voids", -1)) if entry else None
        if not sale:
            return ""
        items = ", ".join(f"{i.get('qty', 1)}× {i.get('name', '')}" for i in (sale.get("items") or [])[:4])
        return self.till.tr(N_("Reverses sale %(tx)s of %(time)s: %(amount)s")) % {
            "tx": f"{sale['terminal_id']}-{sale['seq']}", "time": when_short(sale["time"], self.language),
            "amount": self.till.money(sale["amount"])} + (f" ({items})" if items else "")

    def _history_line(self, item: dict[str, Any]) -> dict[str, Any]:
        line = dict(item)
        line["op_text"] = self.till.tr(OP_TEXT.get(item.get("op", ""), item.get("op", "")))
        if isinstance(item.get("amount"), int):
            line["amount_fmt"] = self.till.money(item["amount"])
        line["balance_fmt"] = self.till.money(item.get("balance"))
        if isinstance(item.get("time"), int):
            line["time_fmt"] = when(datetime.fromtimestamp(item["time"]).astimezone(), self.language)
        return line
