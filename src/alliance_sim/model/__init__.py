"""The model: parameters, the compiled monthly step and its drivers, and the Mesa model.  No I/O here."""

from alliance_sim.model import numba_cache as _numba_cache

_numba_cache.install()  # before any compiled function of the model is defined
