"""numba's on-disk cache, invalidated by any change to the model's sources, not only the function's own file.

numba keys a cached function by the content of the file that defines it.  The compiled step spans several
files (``step`` inlines ``fastmath`` and ``rng``; the drivers in ``drivers`` inline ``step``), so editing
``step.py`` would leave the drivers' cached machine code stale — silently wrong results after a ``git pull``
of an editable install.  This locator stamps every cached function of ``alliance_sim.model`` with one hash of
all the package's model sources, so any edit recompiles everything that could depend on it.

Imported by ``alliance_sim.model`` before any compiled function is defined.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from numba.core import caching

MODEL_DIR = Path(__file__).resolve().parent


def sources_stamp(directory: Path) -> str:
    """SHA-256 over the names and contents of every .py file in ``directory`` (sorted)."""
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@cache
def _model_stamp() -> str:
    return sources_stamp(MODEL_DIR)


class _ModelSources:
    """Mixin: applies only to functions defined in the model package; their stamp is the whole model's."""

    def get_source_stamp(self):
        return _model_stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            if Path(py_file).resolve().parent != MODEL_DIR:
                return None
        except OSError:
            return None
        return super().from_function(py_func, py_file)


class ModelSourcesUserLocator(_ModelSources, caching.UserProvidedCacheLocator):
    """NUMBA_CACHE_DIR, when the user sets it."""


class ModelSourcesLocator(_ModelSources, caching.InTreeCacheLocator):
    """The package's own ``__pycache__`` (the default)."""


class ModelSourcesUserWideLocator(_ModelSources, caching.UserWideCacheLocator):
    """A per-user cache directory, when the package's folder is not writable (a system-wide install)."""


_LOCATORS = (ModelSourcesUserLocator, ModelSourcesLocator, ModelSourcesUserWideLocator)


def install() -> None:
    """Put the model's locators first, in numba's own order of preference (idempotent); functions outside the
    model fall through to numba's locators."""
    classes = caching.CacheImpl._locator_classes
    for cls in reversed(_LOCATORS):
        if cls not in classes:
            classes.insert(0, cls)
