"""Model structures: compartments, the parameters they need, their rate matrix.

A structure is a linear compartment model: amounts x (mg) in compartments with
first-order transfers, dx/dt = K x. Doses enter `dose_compartment`; the
concentration (mg/L) is the amount in `central` over the volume parameter
`volume`. Both engines start from the same description: the ode engine
integrates K x, the analytic engine solves it exactly.
"""

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

# Units a parameter of each dimension may be written in. A unit ending in
# "/kg" means the typical value is per kg of body weight.
UNITS = MappingProxyType({
    "clearance": ("L/h/kg", "L/h"),
    "volume": ("L/kg", "L"),
    "rate": ("1/h",),
})


@dataclass(frozen=True)
class Structure:
    """A linear compartment model.

    `rate_matrix(params)` takes individual parameters (each an ndarray of
    shape (n_subjects,), in L/h, L, 1/h) and returns K, shape
    (n_subjects, n_compartments, n_compartments), 1/h, with
    dx/dt = K x for the amounts x in mg.
    """

    name: str
    compartments: tuple[str, ...]
    parameters: Mapping[str, str]  # parameter name -> dimension (a key of UNITS)
    dose_compartment: str
    central: str
    volume: str
    rate_matrix: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    description: str = ""

    @property
    def dose_index(self) -> int:
        return self.compartments.index(self.dose_compartment)

    @property
    def central_index(self) -> int:
        return self.compartments.index(self.central)


def _one_compartment_oral_k(p: Mapping[str, np.ndarray]) -> np.ndarray:
    ka = p["ka"]
    k = p["CL"] / p["V"]
    rates = np.zeros((ka.shape[0], 2, 2))
    rates[:, 0, 0] = -ka   # depot -> central
    rates[:, 1, 0] = ka
    rates[:, 1, 1] = -k    # elimination from central
    return rates


ONE_COMPARTMENT_ORAL = Structure(
    name="one_compartment_oral",
    compartments=("depot", "central"),
    parameters=MappingProxyType({"CL": "clearance", "V": "volume", "ka": "rate"}),
    dose_compartment="depot",
    central="central",
    volume="V",
    rate_matrix=_one_compartment_oral_k,
    description="one compartment, first-order absorption from a depot, linear elimination",
)

STRUCTURES = MappingProxyType({s.name: s for s in (ONE_COMPARTMENT_ORAL,)})
