"""Model structures: compartments, the parameters they need, their rate matrix.

A structure is a linear compartment model: amounts x (mg) in compartments with
first-order transfers, dx/dt = K x. Oral doses enter `depot` (times the
bioavailability F, after the lag time tlag); the concentration (mg/L) is the
amount in `central` over the volume parameter `volume`. Both engines start
from the same description: the ode engine integrates K x, the analytic engine
solves it exactly.

Disposition: "one_compartment" (CL, V) or "two_compartment" (CL, V1, Q, V2:
central <-> peripheral). Absorption:

- "first_order" (ka): depot -> central at ka.
- "transit" (MTT): depot -> n transit compartments -> central, every transfer
  at the same rate ktr = (n + 1) / MTT, so that MTT is the mean time from the
  dose to its arrival in central (n = 0 is first-order absorption with
  ka = 1/MTT).
- "transit_first_order" (MTT, ka): depot -> n transit compartments ->
  absorption -> central. The depot and each transit compartment empty into
  the next at ktr = (n + 1) / MTT, as above, so MTT is the mean time from the
  dose to its arrival in the absorption compartment (the mean transit time
  of Savic et al., J Pharmacokinet Pharmacodyn 2007;34:711); the absorption
  compartment empties into central at ka. The mean time from the dose to
  central is MTT + 1/ka.
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

# Units a parameter of each dimension may be written in. A unit ending in
# "/kg" means the typical value is per kg of body weight.
UNITS = MappingProxyType(
    {
        "clearance": ("L/h/kg", "L/h"),
        "volume": ("L/kg", "L"),
        "rate": ("1/h",),
        "time": ("h",),
        "fraction": ("1",),
    }
)

DISPOSITIONS = {
    "one_compartment": {"CL": "clearance", "V": "volume"},
    "two_compartment": {"CL": "clearance", "V1": "volume", "Q": "clearance", "V2": "volume"},
}
STRUCTURE_NAMES = {"one_compartment_oral": "one_compartment", "two_compartment_oral": "two_compartment"}
ABSORPTIONS = ("first_order", "transit", "transit_first_order")
# Optional parameters every oral structure takes, with their value when absent.
OPTIONAL = MappingProxyType({"F": ("fraction", 1.0), "tlag": ("time", 0.0)})


@dataclass(frozen=True)
class Structure:
    """A linear oral compartment model.

    Compartments, in order: depot, transit_1..transit_n (transit absorptions),
    absorption ("transit_first_order" only), central, peripheral (two
    compartments only).
    """

    name: str
    absorption: str = "first_order"
    n_transit: int = 0
    disposition: str = field(init=False)

    def __post_init__(self):
        if self.name not in STRUCTURE_NAMES:
            raise ValueError(f"structure is {self.name!r}; expected one of {sorted(STRUCTURE_NAMES)}")
        if self.absorption not in ABSORPTIONS:
            raise ValueError(f"absorption is {self.absorption!r}; expected one of {list(ABSORPTIONS)}")
        n = self.n_transit
        if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0):
            raise ValueError(f"n_transit is {n!r}; expected a whole number >= 0 (transit compartments)")
        if self.absorption == "first_order" and n != 0:
            raise ValueError(
                f"n_transit is {n!r} with first-order absorption; expected absorption = 'transit'"
            )
        object.__setattr__(self, "disposition", STRUCTURE_NAMES[self.name])

    @property
    def compartments(self) -> tuple[str, ...]:
        transit = tuple(f"transit_{i + 1}" for i in range(self.n_transit))
        if self.absorption == "transit_first_order":
            transit += ("absorption",)
        tail = ("central", "peripheral") if self.disposition == "two_compartment" else ("central",)
        return ("depot",) + transit + tail

    @property
    def parameters(self) -> Mapping[str, str]:
        """Required parameters and their dimensions (keys of UNITS)."""
        absorption = {
            "first_order": {"ka": "rate"},
            "transit": {"MTT": "time"},
            "transit_first_order": {"MTT": "time", "ka": "rate"},
        }[self.absorption]
        return MappingProxyType({**DISPOSITIONS[self.disposition], **absorption})

    @property
    def volume(self) -> str:
        return "V" if self.disposition == "one_compartment" else "V1"

    @property
    def dose_index(self) -> int:
        return 0

    @property
    def central_index(self) -> int:
        return self.compartments.index("central")

    def inv_volume(self, p: Mapping[str, np.ndarray]) -> np.ndarray:
        """1 / the central volume, 1/L, shape (n_subjects,): conc = amount in central / V."""
        return 1.0 / p[self.volume]

    def dose_modifiers(self, p: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """F (fraction) and lag (h) of doses into the depot, shape (n_subjects,)."""
        return p["F"], p["tlag"]

    @property
    def label(self) -> str:
        if self.absorption == "transit":
            return f"{self.name} with {self.n_transit} transit compartments"
        if self.absorption == "transit_first_order":
            return f"{self.name} with {self.n_transit} transit compartments and first-order absorption"
        return self.name

    def absorption_rates(self, p: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The rate at which each compartment before central empties into the next, in order.

        Each 1/h, shape (n_subjects,): ka (first order); ktr = (n + 1) / MTT for
        the depot and every transit compartment, then ka for the absorption
        compartment ("transit_first_order").
        """
        if self.absorption == "first_order":
            return [p["ka"]]
        ktr = (self.n_transit + 1) / p["MTT"]
        tail = [p["ka"]] if self.absorption == "transit_first_order" else []
        return [ktr] * (self.n_transit + 1) + tail

    def rate_matrix(
        self, p: Mapping[str, np.ndarray], eliminated: bool = False, infusion_into: int | None = None
    ) -> np.ndarray:
        """K, shape (n_subjects, m, m), 1/h: dx/dt = K x for amounts x in mg.

        p : individual parameters, each shape (n_subjects,), in L/h, L, 1/h, h.
        eliminated : add a last compartment that collects what is eliminated
            (then every column of K sums to 0: mass balance).
        infusion_into : add a compartment (after the structure's own) holding
            the current zero-order input rate, mg/h, that flows into this one.
        """
        absorption = self.absorption_rates(p)
        c = self.central_index
        own = len(self.compartments)
        m = own + (infusion_into is not None) + eliminated
        rates = np.zeros((absorption[0].shape[0], m, m))
        for i, rate in enumerate(absorption):  # the compartments before central, each into the next
            rates[:, i, i] = -rate
            rates[:, i + 1, i] = rate
        if self.disposition == "one_compartment":
            rates[:, c, c] = -p["CL"] / p["V"]
        else:
            k12, k21 = p["Q"] / p["V1"], p["Q"] / p["V2"]
            rates[:, c, c] = -p["CL"] / p["V1"] - k12
            rates[:, c + 1, c] = k12
            rates[:, c, c + 1] = k21
            rates[:, c + 1, c + 1] = -k21
        if infusion_into is not None:
            rates[:, infusion_into, own] = 1.0
        if eliminated:
            rates[:, -1, c] = p["CL"] / p[self.volume]
        return rates
