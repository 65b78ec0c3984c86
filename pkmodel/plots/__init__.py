"""matplotlib figures in one style. Each takes an optional `ax=`, returns its Figure and never
calls show().

The style is a sheet shipped with the package (`STYLE`, pkmodel.mplstyle: Okabe & Ito's
colour-blind-safe palette, constrained layout, 300 dpi when saved); every axis label names its
unit, every panel its n, a target range (always passed in: the drug's, e.g.
`pk.BACLOFEN_TARGET_MG_L`, never a default here) is shaded and labelled, and legends sit
outside the data. A new Figure is not registered with pyplot, so a plot call as the last line
of a notebook cell shows it once. Concentrations are drawn in `unit` ("ng/mL" by default, or
"mg/L", "ug/mL"), converted in `pkmodel.units`. `save` writes PNG, SVG and PDF.
"""

from ._style import FORMATS, PALETTE, STYLE, check_dpi, save
from .curves import daily_doses, percentile_band, spaghetti, vpc
from .tables import DISTRIBUTION_KINDS, exposure_distribution, nomogram, pta_by_band, tornado, wilson_interval

__all__ = [
    "DISTRIBUTION_KINDS",
    "FORMATS",
    "PALETTE",
    "STYLE",
    "check_dpi",
    "daily_doses",
    "exposure_distribution",
    "nomogram",
    "percentile_band",
    "pta_by_band",
    "save",
    "spaghetti",
    "tornado",
    "vpc",
    "wilson_interval",
]
