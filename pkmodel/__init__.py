"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from . import units
from .population import growth
from .population.cohort import Cohort
from .analysis.compare import compare
from .analysis.dose_finding import find_dose
from .dosing.regimen import Doses, Regimen
from .estimation import (IndividualFit, Protocol, ProtocolResult, Visit, estimate_individual,
                         individual_dose, simulate_protocol)
from .dosing.events import EventTable, read_events, write_events
from .analysis.exposure import BACLOFEN_TARGET_MG_L, exposure, exposure_by_interval
from .dosing.formulations import Formulation, bundled_formulations
from .model.model import CovariateEffect, Model, ModelFileError, NegativeObservationWarning, Parameter, RandomEffect, ResidualError, bundled_models, load_model
from .simulation.result import ExposureResult, Result
from .io.resultfile import ResultFileError, SavedResult, load_result
from .analysis.sensitivity import sensitivity
from .simulation.simulate import ENGINES, simulate
from .model.structures import Structure
from .analysis.summary import add_bands, summarize, target_attainment
from .model.validity import ValidityError, ValidityWarning, ValidRange

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
