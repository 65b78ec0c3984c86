"""The children: Cohort, CDC 2000 growth charts, reproducible variability draws; cerebral palsy
(GMFCS) in cerebral_palsy.py; renal function (bedside Schwartz eGFR) in renal.py."""

from . import cerebral_palsy  # noqa: F401  (gives the covariate "gmfcs" its rules)
from . import renal  # noqa: F401  (gives the covariate "egfr_ml_min_1_73m2" its rules)
