"""pkmodel: population pharmacokinetic simulation (oral baclofen in children with CP first).

A research tool, not clinical dosing advice.
"""

from .cohort import Cohort
from .dosing import Doses, Regimen
from .events import EventTable, read_events, write_events
from .exposure import exposure
from .formulations import Formulation, bundled_formulations
from .model import Model, ModelFileError, Parameter, bundled_models, load_model
from .result import Result
from .simulate import ENGINES, simulate

__version__ = "0.1.0"

__all__ = [
    "Cohort", "Doses", "ENGINES", "Model", "ModelFileError", "Parameter", "Regimen", "Result",
    "bundled_models", "exposure", "load_model", "simulate",
    "EventTable", "Formulation", "bundled_formulations", "read_events", "write_events",
]
