"""The analytic engine's path for a schedule every child takes at its own times (timing jitter,
missed doses): the doses kept as (doses x children) arrays, never flattened into records.

A Regimen with jitter gives each child the same scheduled doses, each taken at its own time
(`Doses.offset_h`); a missed one has amount 0. The outputs are marched (`march`): the state at
output j is Phi(t_j - t_{j-1}) times the state at output j - 1, one transition per distinct
output step shared by the children, plus, by superposition, a Phi(t_j - T) e_c for each dose
(amount a into compartment c at T) in (t_{j-1}, t_j]: one transition per dose and child,
computed a scheduled dose at a time over every child. A scheduled dose lands in a few outputs
(its jitter's spread): its children are ordered by the output they land in (a radix sort of
small keys), so each output adds contiguous runs. The states are held per unit volume (mg/L),
so that the central one is the output row itself. Every product is element by element over
children, summed in a fixed order (compartments, then the schedule's order): a child's numbers
do not depend on who else is in its chunk.
"""

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..dosing.doses import Doses
from ..model.structures import Structure
from .common import Epochs
from .solutions import Solution

STEP_CACHE_BYTES = 2**27  # transitions between outputs kept while marching over them

# each output j: (state row, children, what they add), in a fixed order
Adds = Callable[[int], Iterator[tuple[int, np.ndarray | slice, np.ndarray]]]


@dataclass(frozen=True, eq=False)
class ScheduleInputs:
    """A shared schedule taken at each child's own times: the engines' view of jittered Doses.

    times_h, amounts_mg : shape (n_doses, n_subjects), dose-major: when each child's dose
    reached the body (+ lag) and how much did (x F; 0: missed); compartment : (n_doses,).
    """

    times_h: np.ndarray
    amounts_mg: np.ndarray
    compartment: np.ndarray


def schedule_input(structure: Structure, epochs: Epochs, doses: Doses) -> ScheduleInputs | None:
    """Jittered Doses as they reach the body (`common.dose_input`, without flattening); None
    where this path does not apply: several epochs, steady-state doses or infusions."""
    if doses.offset_h is None or epochs.start_h.size > 1 or doses.ss.any() or (doses.rate_mg_per_h > 0).any():
        return None
    f, tlag = structure.dose_modifiers(epochs.params[0])
    oral = doses.compartment == structure.dose_index
    # the flat records' (time + offset) + lag, dose-major
    times = np.array(doses.offset_h.T, order="C")  # copies (the caller's arrays stay as given)
    times += doses.time_h[:, None]
    amounts = np.array(doses.amount_mg.T, order="C")
    if np.any(tlag != 0):
        times[oral] += tlag
    if np.any(f != 1):
        amounts[oral] *= f
    return ScheduleInputs(times, amounts, doses.compartment)


def simulate_schedule(sol: Solution, inputs: ScheduleInputs, times_h: np.ndarray) -> np.ndarray:
    """Concentrations, shape (n_subjects, n_times), mg/L (a Fortran-ordered view).

    A scheduled dose's transitions are computed when the march reaches the first output it
    can land in, and dropped once added: memory for the few doses in flight, not all.
    """
    n_times = times_h.size
    first = np.searchsorted(times_h, inputs.times_h.min(axis=1), side="right")  # (n_doses,)
    landing: list[list[tuple[int, np.ndarray | slice, np.ndarray]]] = [[] for _ in range(n_times)]

    def adds(j: int):
        for d in np.flatnonzero(first == j):  # the doses that may land from output j on
            for output, children, added in _landed(sol, inputs, int(d), times_h):
                landing[output].append((int(d), children, added))
        # in the schedule's order, not in the order prepared (which follows the chunk's times)
        for _, children, added in sorted(landing[j], key=lambda entry: entry[0]):
            for row in range(sol.m):
                yield row, children, added[row]
        landing[j] = []

    return march(sol, inputs.times_h.shape[1], times_h, adds)


def _landed(sol: Solution, inputs: ScheduleInputs, d: int, times_h: np.ndarray):
    """Scheduled dose d of every child, by the output it lands in: (output, children, what
    each adds there, shape (m, n_children), mg/L), children in increasing order."""
    t, a = inputs.times_h[d], inputs.amounts_mg[d]
    n_times = times_h.size
    lo = int(np.searchsorted(times_h, t.min(), side="right"))
    hi = int(np.searchsorted(times_h, t.max(), side="right"))
    if lo >= n_times or not (a > 0).any():  # after the last output, or missed by all
        return
    # the first output after each child's dose; only outputs lo..hi can be it
    after = lo + np.searchsorted(times_h[lo:hi], t, side="right")
    tau = times_h[np.minimum(after, n_times - 1)] - t
    if hi >= n_times:  # doses after the last output add nothing (and no Phi of a negative step)
        tau[after >= n_times] = 0.0
    added = sol.dose_column(int(inputs.compartment[d]), tau, a * sol.inv_volume)  # (m, n), mg/L
    if hi == lo:
        yield lo, slice(None), added
        return
    key = after - lo
    order = np.argsort(key.astype(np.uint8) if hi - lo < 2**8 else key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(hi - lo + 2))
    added = np.take(added, order, axis=1)
    for u in range(min(hi, n_times - 1) - lo + 1):
        b0, b1 = bounds[u], bounds[u + 1]
        if b1 > b0:
            yield lo + u, order[b0:b1], added[:, b0:b1]


def march(sol: Solution, n: int, times_h: np.ndarray, adds: Adds) -> np.ndarray:
    """Concentrations at the outputs, marched from output to output (one set of rates).

    The state (per unit volume, mg/L: the central one is the output row) at output j is
    Phi(t_j - t_{j-1}) times that at output j - 1, plus what `adds(j)` yields: (state row,
    children, amounts, mg/L), added in that order. Terms of Phi that are zero for every child
    are skipped (exact zeros: the same bits). Returns shape (n_subjects, n_times), mg/L.
    """
    n_times, m, central = times_h.size, sol.m, sol.central
    out = np.empty((n_times, n))
    others = [r for r in range(m) if r != central]
    spare = {r: np.zeros(n) for r in others}  # the states other than central, two buffers each
    z = {r: np.zeros(n) for r in others}
    term = np.empty(n)
    steps: dict[float, tuple[np.ndarray, list]] = {}
    budget = max(1, STEP_CACHE_BYTES // max(m * m * n * 8, 1))
    for j in range(n_times):  # over outputs, vectorised over children
        if j == 0:
            out[0] = 0.0
        else:
            # steps that differ in the 13th digit (np.arange, linspace grids) share a transition
            dt = float(f"{times_h[j] - times_h[j - 1]:.12g}")
            if dt not in steps:
                if len(steps) >= budget:
                    steps.clear()
                phi = sol.transition(np.array([dt]))[:, :, 0]
                terms = [np.flatnonzero(np.any(phi[i] != 0, axis=-1)) for i in range(m)]
                steps[dt] = (phi, terms)
            phi, terms = steps[dt]
            state = {**z, central: out[j - 1]}
            for i in [central] + others:
                dest = out[j] if i == central else spare[i]
                if terms[i].size == 0:
                    dest[...] = 0.0
                    continue
                np.multiply(phi[i, terms[i][0]], state[terms[i][0]], out=dest)
                for k in terms[i][1:]:
                    dest += np.multiply(phi[i, k], state[k], out=term)
            z, spare = {r: spare[r] for r in others}, {r: z[r] for r in others}
        rows = {**z, central: out[j]}
        for row, children, amounts in adds(j):
            rows[row][children] += amounts
    return out.T
