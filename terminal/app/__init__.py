"""The terminal application without I/O: modes, cart, payment flow, permissions, sessions."""

from terminal.app.cart import Cart, CartError, CartLine
from terminal.app.flow import Decision, Flow, FlowError, Phase, Request, TapAction
from terminal.app.permissions import GRANTS, KIND_PERMISSION, NotPermitted, Permission, Role, allowed, require
from terminal.app.session import Session
from terminal.catalogue import Catalogue, CatalogueError, Product, ean13_valid

__all__ = [
    "GRANTS", "KIND_PERMISSION", "Cart", "CartError", "CartLine", "Catalogue", "CatalogueError", "Decision", "Flow",
    "FlowError", "NotPermitted", "Permission", "Phase", "Product", "Request", "Role", "Session", "TapAction",
    "allowed", "ean13_valid", "require",
]
