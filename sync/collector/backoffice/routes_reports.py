"""Reports as pages with a chart, and as CSV (major units, machine-readable) and PDF (formatted for print)."""

from __future__ import annotations

import csv
import io
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from sync.collector.backoffice import audit
from sync.collector.backoffice.filter_bar import read_bar
from sync.collector.backoffice.language import gettext, money, money_plain
from sync.collector.backoffice.pdf import table_pdf
from sync.collector.backoffice.report_views import (
    BY_NAME,
    DAYS_SQL,
    FIELDS,
    VIEWS,
    cell,
    chart,
    columns,
    is_money,
    label,
    report_rows,
)
from sync.collector.backoffice.web import Web
from sync.collector.reports import ReportError, settlement

ReportName = Annotated[str, Path(pattern="^[a-z-]{1,30}$")]


def _commission(request: Request) -> float:
    try:
        value = float(request.query_params.get("commission", "0") or 0)
    except ValueError:
        return 0.0
    return value if 0 <= value <= 100 else 0.0


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    store = web.store

    @web.route(router, "GET", "/reports", "view")
    def get_reports(request: Request) -> Response:
        return web.render(request, "reports.html", views=VIEWS, vendors=[r["vendor"] for r in settlement(store)])

    @web.route(router, "GET", "/reports/{name}", "view")
    def get_report(name: ReportName, request: Request) -> Response:
        view = BY_NAME.get(name)
        if view is None:
            return web.render(request, "reports.html", status_code=404, views=VIEWS, vendors=[],
                              error=f"unknown report {name!r}")
        commission = _commission(request)
        bar = read_bar(request.query_params, store, FIELDS[name], days_sql=DAYS_SQL.get(name, ""))
        if bar.error:  # the page, CSV and PDF alike: a hostile filter is refused, nothing is exported unfiltered
            if request.query_params.get("format") in ("csv", "pdf"):  # a script reads the reason as text
                return Response(bar.error + "\n", status_code=422, media_type="text/plain; charset=utf-8")
            return web.render(request, "reports.html", status_code=422, views=VIEWS, vendors=[],
                              error=bar.message(lambda m: gettext(web.language(request), m)))
        filters = bar.filters
        try:
            rows = report_rows(store, name, commission=commission, filters=filters)
        except ReportError as exc:
            return web.render(request, "reports.html", status_code=422, views=VIEWS, vendors=[], error=str(exc))
        cols, currency, language = columns(rows), web.currency, web.language(request)
        fmt = request.query_params.get("format", "html")
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow([*cols, "currency"])
            for r in rows:
                writer.writerow([money_plain(r[c], currency) if is_money(r, c) and isinstance(r[c], int) else r[c]
                                 for c in cols] + [currency])
            return Response(out.getvalue(), media_type="text/csv", headers={
                "Content-Disposition": f'attachment; filename="{name}.csv"'})

        def show(r: dict, c: str) -> str:
            return cell(r, c, currency, language)
        if fmt == "pdf":
            right = [i for i, c in enumerate(cols) if c in ("value", "sales", "quantity") or c in
                     {"net", "total", "gross", "commission", "cash_in", "cash_out", "expected_drawer"}]
            sliced = "".join(f" · {gettext(language, k.capitalize())}: {v}" for k, v in bar.query().items())
            data = table_pdf(gettext(language, view.title), f"{web.event_label()} · {currency}{sliced}",
                             [label(language, c) for c in cols],
                             [[label(language, r[c]) if c == "item" else show(r, c) for c in cols] for r in rows],
                             right_aligned=right, cjk=language == "zh_CN")
            return Response(data, media_type="application/pdf",
                            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
        return web.render(request, "report.html", view=view, rows=rows, cols=cols, show=show,
                          chart=chart(view, rows, currency, language), label=lambda k: label(language, k),
                          commission=commission, bar=bar,
                          links=urlencode({**bar.query(), **({"commission": f"{commission:g}"} if commission
                                                             else {})}))

    @web.route(router, "GET", "/reports/settlement/{vendor}/pdf", "view")
    def get_settlement_pdf(vendor: Annotated[str, Path(min_length=1, max_length=100)], request: Request) -> Response:
        commission = _commission(request)
        language, currency = web.language(request), web.currency
        row = next((r for r in settlement(store, commission) if r["vendor"] == vendor), None)
        if row is None:
            return web.render(request, "reports.html", status_code=404, views=VIEWS, vendors=[],
                              error=f"no sales for vendor {vendor!r}")
        t = lambda m: gettext(language, m)  # noqa: E731
        lines = [[t("gross"), money(row["gross"], currency, language)],
                 [f"{t('commission')} ({commission:g} %)", money(row["commission"], currency, language)],
                 [t("net"), money(row["net"], currency, language)]]
        data = table_pdf(f"{t('Vendor settlement')}: {vendor}", f"{web.event_label()} · {currency}",
                         [t("item"), t("amount")], lines, right_aligned=[1],
                         footer=f"{t('To pay to the vendor')}: {money(row['net'], currency, language)}",
                         cjk=language == "zh_CN")
        audit.record(store, request.state.session.username, "settlement printed", f"vendor:{vendor}",
                     commission=commission, net=row["net"])
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="settlement-{vendor}.pdf"'})

    return router
