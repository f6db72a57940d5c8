"""The terminal's HTTP routes, one router per area of the till."""

from terminal.ui.routes import admin, cashier, display, events, face, pages, sale, session, simulator

ROUTERS = (session.router, events.router, sale.router, cashier.router, face.router, admin.router, display.router,
           pages.router)

__all__ = ["ROUTERS", "simulator"]
