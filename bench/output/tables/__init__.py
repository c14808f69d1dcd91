"""Rich tables, one module per kind of result: each renderer takes rows that analysis built (or records)
and a ``Console``, and measures nothing.

- :mod:`runs`: time per step (``bench run``, ``report``, ``compare``); its cells also feed summary.md;
- :mod:`comparisons`: LRN cost, frameworks side by side, the LRN layer alone (``bench compare``);
- :mod:`checks`: environment, data, calibration, verification against the reference;
- :mod:`accuracy`: accuracy parity and loss trajectories (``bench parity``);
- :mod:`breakdown`: where a step goes (``bench profile``);
- :mod:`trends`: performance history (``bench history report``);
- :mod:`cells`: what every table's cells share (a figure or a dash, a percentage, PASS/FAIL).

A new table goes in the module of the results it shows (a new kind of result: a new module here).
"""
