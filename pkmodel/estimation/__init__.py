"""Estimation: measured levels -> individual parameters -> individual doses; protocol trials."""

from .dose import individual_dose
from .fit import IndividualFit, estimate_individual
from .protocol import Protocol, ProtocolResult, Visit, simulate_protocol

__all__ = [
    "IndividualFit",
    "Protocol",
    "ProtocolResult",
    "Visit",
    "estimate_individual",
    "individual_dose",
    "simulate_protocol",
]
