"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from . import growth
from .cohort import Cohort
from .dosing import Doses, Regimen
from .exposure import exposure
from .model import (CovariateEffect, Model, ModelFileError, Parameter, RandomEffect, ResidualError,
                    bundled_models, load_model)
from .structures import Structure
from .result import Result
from .simulate import ENGINES, simulate

__version__ = "0.1.0"

__all__ = [
    "Cohort", "CovariateEffect", "Doses", "ENGINES", "Model", "ModelFileError", "Parameter",
    "RandomEffect", "Regimen", "ResidualError", "Result", "Structure",
    "bundled_models", "exposure", "growth", "load_model", "simulate",
]
