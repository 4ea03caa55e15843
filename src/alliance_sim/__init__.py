"""alliance-sim: an agent-based scenario simulator of alliance cohesion (US, Japan, South Korea, China).

The main names are loaded lazily, so ``import alliance_sim`` stays light (no matplotlib, no model
compilation) until one is used::

    import alliance_sim as al
    res = al.run(al.load("tariff_shock_2025"), replicates=2000)
    res.plot_alignment()
"""

__version__ = "0.1.0"

_LAZY = {
    "load": "alliance_sim.api",
    "run": "alliance_sim.api",
    "compare": "alliance_sim.api",
    "with_overrides": "alliance_sim.api",
    "RunResult": "alliance_sim.api",
    "CompareResult": "alliance_sim.api",
    "Scenario": "alliance_sim.scenario",
    "ScenarioError": "alliance_sim.scenario",
    "load_scenario": "alliance_sim.scenario",
    "list_scenarios": "alliance_sim.scenario",
    "Parameters": "alliance_sim.model.parameters",
    "run_ensemble": "alliance_sim.ensemble",
    "to_dataset": "alliance_sim.results",
    "headline_summary": "alliance_sim.results",
    "load_results": "alliance_sim.rundir",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alliance_sim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
