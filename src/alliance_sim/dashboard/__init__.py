"""The browser dashboard (``alliance dashboard``): a Solara page over the model's Python API.

Pieces, each with one purpose: :mod:`.session` (one visitor's model, its settings and history),
:mod:`.explain` (why the agents chose what they chose: the utility terms), :mod:`.figures` (the
charts, in the colours and names of :mod:`alliance_sim.plots`), :mod:`.page` (the Solara components)
and :mod:`.server` (serving the page with Solara's packaged assets, so it works offline).
"""
