"""Reference implementation: one world per Mesa model, plain Python, same rules and draws as the compiled step.

Used as an independent oracle (tests/test_reference_differential.py) and as the ``mesa.batch_run``
baseline of the benchmark (benchmarks/bench_engine.py).  It deliberately does not import
the compiled step (``alliance_sim.model.step``, ``drivers``, ``layout``) or the ensemble Mesa model.
"""

from alliance_sim.reference.model import ReferenceModel

__all__ = ["ReferenceModel"]
