"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from . import growth, units
from .cohort import Cohort
from .compare import compare
from .dose_finding import find_dose
from .dosing import Doses, Regimen
from .estimation import (IndividualFit, Protocol, ProtocolResult, Visit, estimate_individual,
                         individual_dose, simulate_protocol)
from .events import EventTable, read_events, write_events
from .exposure import BACLOFEN_TARGET_MG_L, exposure, exposure_by_interval
from .formulations import Formulation, bundled_formulations
from .model import (CovariateEffect, Model, ModelFileError, NegativeObservationWarning, Parameter,
                    RandomEffect, ResidualError, bundled_models, load_model)
from .result import ExposureResult, Result
from .resultfile import ResultFileError, SavedResult, load_result
from .sensitivity import sensitivity
from .simulate import ENGINES, simulate
from .structures import Structure
from .summary import add_bands, summarize, target_attainment
from .validity import ValidityError, ValidityWarning, ValidRange

__version__ = "0.1.0"

__all__ = [
    "BACLOFEN_TARGET_MG_L", "Cohort", "CovariateEffect", "Doses", "ENGINES", "EventTable",
    "ExposureResult", "Formulation", "IndividualFit", "Model", "ModelFileError",
    "NegativeObservationWarning", "Parameter", "Protocol", "ProtocolResult", "RandomEffect",
    "Regimen", "ResidualError", "Result", "ResultFileError", "SavedResult", "Structure",
    "ValidRange", "ValidityError", "ValidityWarning", "Visit", "add_bands", "bundled_formulations",
    "bundled_models", "compare", "estimate_individual", "exposure", "exposure_by_interval",
    "find_dose", "growth", "individual_dose", "load_model", "load_result", "read_events",
    "sensitivity", "simulate", "simulate_protocol", "summarize", "target_attainment", "units",
    "write_events",
]
