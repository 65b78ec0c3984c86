"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from . import growth
from .cohort import Cohort
from .dosing import Doses, Regimen
from .exposure import exposure
from .model import Model, ModelFileError, Parameter, bundled_models, load_model
from .result import Result
from .simulate import ENGINES, simulate

__version__ = "0.1.0"

__all__ = [
    "Cohort", "Doses", "ENGINES", "Model", "ModelFileError", "Parameter", "Regimen", "Result",
    "bundled_models", "exposure", "growth", "load_model", "simulate",
]
