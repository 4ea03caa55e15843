"""The model's mechanisms, one module per mechanism group of the brief (§3).

Each function is a named term of the model: pure numpy over arrays whose leading axis is the
replicate, documented with its equation in docs/model.md §7 and tested on its own.
"""
