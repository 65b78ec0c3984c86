"""Engines: the Engine contract and its one registry (base.py), the analytic engine (exact, linear
models) and the ode engine (solve_ivp, any model), both registered here on import.

Each returns concentrations, shape (n_subjects, n_times), mg/L. An output time
equal to a dose time reports the concentration just before that dose (the
pre-dose value: a sample record placed before the dose record, as in NONMEM).
"""

from . import analytic, ode  # noqa: F401  (each registers its engine)
