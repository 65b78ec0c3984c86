"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from . import units
from ._version import __version__
from .analysis.compare import Comparison, compare
from .analysis.dose_finding import find_dose
from .analysis.exposure import exposure, exposure_by_interval
from .analysis.sensitivity import sensitivity
from .analysis.summary import add_bands, summarize, target_attainment
from .dosing.doses import Doses, SubjectDoses
from .dosing.events import EventTable, read_events, write_events
from .dosing.formulations import Formulation, bundled_formulations
from .dosing.regimen import Regimen
from .drugs.baclofen import BACLOFEN_TARGET_MG_L
from .engines.base import ENGINES, Engine, register_engine
from .estimation import (
    IndividualFit,
    Protocol,
    ProtocolResult,
    Visit,
    estimate_individual,
    individual_dose,
    simulate_protocol,
)
from .io.resultfile import ResultFileError, SavedResult, load_result
from .model.files import bundled_models, load_model
from .model.model import (
    Covariate,
    CovariateEffect,
    Model,
    ModelFileError,
    NegativeObservationWarning,
    Parameter,
    RandomEffect,
    ResidualError,
)
from .model.structures import Structure
from .model.validity import ValidityError, ValidityWarning, ValidRange
from .population import growth
from .population.cohort import Cohort
from .simulation.result import ExposureResult, Result, Simulated
from .simulation.dataset import simulate_dataset
from .simulation.simulate import simulate

__all__ = [
    "BACLOFEN_TARGET_MG_L",
    "Cohort",
    "Comparison",
    "Covariate",
    "CovariateEffect",
    "Doses",
    "ENGINES",
    "Engine",
    "EventTable",
    "ExposureResult",
    "Formulation",
    "IndividualFit",
    "Model",
    "ModelFileError",
    "NegativeObservationWarning",
    "Parameter",
    "Protocol",
    "ProtocolResult",
    "RandomEffect",
    "Regimen",
    "ResidualError",
    "Result",
    "ResultFileError",
    "SavedResult",
    "Simulated",
    "Structure",
    "SubjectDoses",
    "ValidRange",
    "ValidityError",
    "ValidityWarning",
    "Visit",
    "__version__",
    "add_bands",
    "bundled_formulations",
    "bundled_models",
    "compare",
    "estimate_individual",
    "exposure",
    "exposure_by_interval",
    "find_dose",
    "growth",
    "individual_dose",
    "load_model",
    "load_result",
    "read_events",
    "register_engine",
    "sensitivity",
    "simulate",
    "simulate_dataset",
    "simulate_protocol",
    "summarize",
    "target_attainment",
    "units",
    "write_events",
]
