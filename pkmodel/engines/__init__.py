"""Engines: one signature, `simulate(structure, params, doses, times_h, **options)`.

Each returns concentrations, shape (n_subjects, n_times), mg/L. An output time
equal to a dose time reports the concentration just before that dose (the
pre-dose value: a sample record placed before the dose record, as in NONMEM).
"""
