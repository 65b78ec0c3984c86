"""The children: Cohort, CDC 2000 growth charts, reproducible variability draws; cerebral palsy
(GMFCS) in cerebral_palsy.py."""

from . import cerebral_palsy  # noqa: F401  (gives the covariate "gmfcs" its rules)
