"""Likelihood-free calibration (ABC-SMC with pyabc) of chosen parameters to observed series.

``alliance calibrate CALIBRATION.toml`` reads a calibration file (:mod:`.config`), simulates
summary statistics at the observed months with the compiled model (:mod:`.simulate`), runs pyabc's
ABC-SMC on a dask cluster (:mod:`.fit`, :mod:`.sampler`) and writes the posterior, diagnostics and
plots (:mod:`.outputs`, :mod:`.plots`).  See docs/calibration.md.
"""

from alliance_sim.calibration.config import CalibrationError, load_calibration

__all__ = ["CalibrationError", "load_calibration"]
