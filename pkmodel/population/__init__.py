"""The children: Cohort, CDC 2000 growth charts, reproducible variability draws; cerebral palsy
(GMFCS) in cerebral_palsy.py."""
