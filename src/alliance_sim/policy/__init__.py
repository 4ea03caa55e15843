"""Robust policy search: levers (what a government controls) searched by a multi-objective optimiser,
each candidate policy judged over the same uncertainty draws (common random numbers), with the Pareto
front, each Pareto policy's regret across the draws, and plots.  See docs/policy_search.md."""
