"""numba's cache of the compiled step is invalidated by a change to any model source (not only the function's
own file), so an edited step.py can never leave the drivers' cached machine code stale."""

from __future__ import annotations

from pathlib import Path

from alliance_sim.model import drivers, step
from alliance_sim.model.numba_cache import ModelSourcesLocator, ModelSourcesUserLocator, sources_stamp


def test_stamp_changes_with_any_source_and_only_with_sources(tmp_path: Path):
    for name in ("step.py", "rng.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    (tmp_path / "notes.txt").write_text("not a source")
    before = sources_stamp(tmp_path)
    assert sources_stamp(tmp_path) == before
    (tmp_path / "notes.txt").write_text("still not a source")
    assert sources_stamp(tmp_path) == before
    (tmp_path / "rng.py").write_text("# rng.py, edited\n")
    assert sources_stamp(tmp_path) != before


def test_model_kernels_use_the_model_sources_locator():
    for fn in (drivers._ens_transition, drivers._trajectories, step.transition):
        assert isinstance(fn._cache._impl.locator, (ModelSourcesLocator, ModelSourcesUserLocator)), fn


def test_numba_cache_dir_is_respected(tmp_path: Path):
    """A user's NUMBA_CACHE_DIR (e.g. for a read-only install) still holds the model's cache."""
    import subprocess
    import sys

    code = ("from alliance_sim.model import drivers; "
            "print(type(drivers._ens_transition._cache._impl.locator).__name__, "
            "drivers._ens_transition._cache._impl.locator.get_cache_path())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path)}).stdout
    assert out.startswith("ModelSourcesUserLocator") and str(tmp_path) in out
