"""What the Mesa model and the recorders see of an ensemble: its state variables as (R, ...) arrays.

The state itself lives in the compiled step's blocked layout (``drivers.EnsembleSim``); this view reads a
variable by its name in ``layout.STATE`` (``state.alignment`` is (R, A), ``state.ties`` (R, n, n) …), so
there is one list of state variables, not a second copy of it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from alliance_sim.model.drivers import EnsembleSim
from alliance_sim.model.layout import STATE

_BOOL = {"chip_used", "crossed"}
_INT8 = {"us_last", "ally_last", "china_last", "adversary_last", "us_choice", "ally_choice", "china_choice",
         "adversary_choice"}
NAMES = tuple(name for name, _ in STATE)


def _convert(name: str, v: np.ndarray) -> np.ndarray:
    if name in _BOOL:
        return v != 0.0
    if name in _INT8:
        return v.astype(np.int8)
    if name == "bonus_left":
        return v.astype(np.int64)
    return v


class EnsembleState:
    """The state of R replicates at the start of month ``month`` (read-only copies of the compiled state)."""

    def __init__(self, sim: EnsembleSim):
        self._sim = sim

    @property
    def month(self) -> int:
        return self._sim.month

    @property
    def replicates(self) -> int:
        return self._sim.R

    @property
    def keys(self) -> np.ndarray:
        return self._sim.keys_flat

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or name not in NAMES:
            raise AttributeError(name)
        return _convert(name, self._sim.field(name))

    def copy(self) -> SimpleNamespace:
        """A snapshot of every replicate's state (every variable copied)."""
        return self.select(slice(None))

    def select(self, index) -> SimpleNamespace:
        """A snapshot of replicates ``index`` (every state variable, copied; used by tests and comparisons)."""
        snap = {name: getattr(self, name)[index] for name in NAMES}
        return SimpleNamespace(month=self.month, replicates=len(np.arange(self.replicates)[index]), **snap)


@dataclass
class Decisions:
    """Choices of month t, (R, A) or (R, D) int8 option indices (see compiled.*_OPTIONS)."""

    us: np.ndarray
    ally: np.ndarray
    china: np.ndarray
    adversary: np.ndarray
