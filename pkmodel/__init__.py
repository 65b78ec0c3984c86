"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from .cohort import Cohort
from .dosing import Doses, Regimen
from .compare import compare
from .dose_finding import find_dose
from .exposure import BACLOFEN_TARGET_MG_L, exposure, exposure_by_interval
from .model import Model, ModelFileError, Parameter, bundled_models, load_model
from .result import Result
from .simulate import ENGINES, simulate
from .summary import add_bands, summarize, target_attainment

__version__ = "0.1.0"

__all__ = [
    "Cohort", "Doses", "ENGINES", "Model", "ModelFileError", "Parameter", "Regimen", "Result",
    "bundled_models", "exposure", "load_model", "simulate",
    # exposure analysis (issue 6)
    "BACLOFEN_TARGET_MG_L", "add_bands", "compare", "exposure_by_interval", "find_dose",
    "summarize", "target_attainment",
]
