"""The simulation: a whole event through both sides (terminals and the collector)."""

from sync.sim.simulation import SimError, simulate

__all__ = ["SimError", "simulate"]
