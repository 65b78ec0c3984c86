"""The ode engine's own path: a compiled system integrated child by child, in one batch.

Each child's events are its own (doses after F and lag, infusion starts and
stops, steady-state doses, occasion starts), stored flat (CSR) like
SubjectDoses: memory is linear in the doses given, never children x all
dose times. `_integrator.integrate` steps every child with its own step
size and its own error norm; this module turns the events into its
callbacks and reads each child's concentration at its output times.

State kept beside the amounts, per child: the epoch (occasion) in effect,
whose parameters the right-hand side uses, and the infusion rate (mg/h)
flowing into the infusion compartment. Both change only at events, where
the integrator lands exactly.

The stepping is `_integrator`'s (numpy, the cohort in lockstep) or, for method
"rodas5p" without steady-state doses, the same algorithm compiled child by child
(`_kernel`, numba, when it is installed): `kernel` "auto" takes the compiled one where
it can, "numba" insists on it (refusing what it cannot do), "numpy" never takes it.
"""

import numpy as np

from ._integrator import integrate
from .common import Epochs, Inputs, SubjectInputs
from .linalg import expm, steady_state

DOSE, RATE, EPOCH, STEADY = 0, 1, 2, 3  # what an event does
KERNELS = ("auto", "numba", "numpy")
# "auto" takes the kernel for systems of at most this many states: the lane kernel's child-step
# has a per-lane LU (~m^3 scalar), numpy's is vectorised over the children; measured at N =
# 10,000: 2 states 2.2-2.7x faster on the kernel (W1, W6, W4c), 6 states (W2) 1.8x; more
# states not measured. Never by the number of children: a chunk's path, and so its bits,
# would then depend on the chunking
AUTO_MAX_STATES = 6
INSTALL = "pip install 'pkmodel[fast]' (or pip install numba)"
_LOADED: list = []  # [the `_kernel` module, or the ImportError's text], once per process


def kernel_module():
    """`_kernel` (numba imported, the kernel compiled or read from its cache), or None when
    numba cannot be imported; `kernel_missing` then says why."""
    if not _LOADED:
        try:
            from . import _kernel

            _LOADED.append(_kernel)
        except ImportError as error:
            _LOADED.append(str(error))
    return None if isinstance(_LOADED[0], str) else _LOADED[0]


def kernel_missing() -> str | None:
    """Why the compiled kernel cannot be had (numba not importable), or None."""
    return None if kernel_module() is not None else _LOADED[0]


def kernel_reason(method: str, kinds: np.ndarray) -> str | None:
    """Why the compiled kernel does not cover this case (None: it does)."""
    if method != "rodas5p":
        return f"method {method!r} is stepped by numpy only (the kernel is Rodas5P's)"
    if np.any(kinds == STEADY):
        return "steady-state doses (SS = 1, 2) are set by the matrix exponential on the numpy path"
    return None


def uses_time(system) -> bool:
    """Whether a System's right-hand side depends on t (directly or through derived names)."""
    return any(
        "t" in system.dynamic[name]
        for c in system.compartments
        for name, _ in system.expressions[f"odes.{c}"].names
    )


def per_subject(inputs: Inputs | SubjectInputs) -> SubjectInputs:
    """Inputs at shared times as each child's own records (those with an amount), in order."""
    if isinstance(inputs, SubjectInputs):
        return inputs
    n = inputs.amounts_mg.shape[0]
    since = inputs.since_h if inputs.since_h is not None else np.zeros(inputs.times_h.size)
    subject, column = np.nonzero(inputs.amounts_mg)  # row-major: each child's in time order
    offsets = np.r_[0, np.cumsum(np.bincount(subject, minlength=n))]
    return SubjectInputs(
        offsets=offsets,
        times_h=inputs.times_h[column],
        amounts_mg=inputs.amounts_mg[subject, column],
        compartment=inputs.compartment[column],
        ss=inputs.ss[column],
        ii_h=inputs.ii_h[column],
        since_h=since[column],
        infusion_into=inputs.infusion_into,
    )


def _events(epochs: Epochs, inputs: SubjectInputs, m: int) -> dict:
    """Every child's events in CSR: "offsets" (n + 1,) and, each (n_events,), "time", "kind",
    "value" (mg, or mg/h for a rate), "compartment", "ss", "ii", "since", "epoch" (the
    occasion an EPOCH event starts). Occasion starts come after the inputs at their time."""
    n, e = inputs.n_subjects, epochs.start_h.size - 1
    fields = {
        "kind": np.where(inputs.ss > 0, STEADY, np.where(inputs.compartment == m, RATE, DOSE)),
        "value": inputs.amounts_mg,
        "compartment": inputs.compartment,
        "ss": inputs.ss,
        "ii": inputs.ii_h,
        "since": inputs.since_h,
        "epoch": np.zeros(inputs.times_h.size, dtype=np.intp),
    }
    added = {"kind": np.full(n * e, EPOCH), "epoch": np.tile(np.arange(1, e + 1), n)}
    subject = np.concatenate([inputs.subject, np.repeat(np.arange(n), e)])
    time = np.concatenate([inputs.times_h, np.tile(epochs.start_h[1:], n)])
    rank = np.r_[np.zeros(inputs.times_h.size), np.ones(n * e)]
    order = np.lexsort((rank, time, subject))  # stable: a child's inputs at one time keep their order
    events = {
        k: np.concatenate([v, added.get(k, np.zeros(n * e, dtype=v.dtype))])[order] for k, v in fields.items()
    }
    events["time"] = time[order]
    events["offsets"] = np.r_[0, np.cumsum(np.bincount(subject, minlength=n))]
    return events


def integrate_cohort(
    compiled,
    epochs: Epochs,
    inputs: SubjectInputs,
    times_h: np.ndarray,
    observe: tuple[str, ...],
    rtol: float,
    atol_mg: np.ndarray,
    method: str = "rodas5p",
    kernel: str = "auto",
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """Each child's outputs named in `observe` at times_h, by name, each (n_subjects, n_times).

    compiled : CompiledSystem, m compartments; epochs : each child's parameters per occasion,
    with the covariates the equations read (one dict, as the engines pass them);
    inputs : each child's inputs (common.dose_input); rtol; atol_mg : shape (n_subjects,), mg;
    method : `_integrator.METHODS`; kernel : KERNELS; threads : the kernel's (`_kernel.integrate`).
    An output at an event time reports the state before the events at that time.
    """
    amounts, _, _ = integrate_amounts(
        compiled, epochs, inputs, times_h, rtol, atol_mg, method, kernel, threads
    )
    return _observe(compiled, epochs, times_h, amounts, observe)


def integrate_amounts(
    compiled, epochs, inputs, times_h, rtol, atol_mg, method="rodas5p", kernel="auto", threads=1
):
    """Each child's amounts at times_h, (n, n_times, m) mg, and its accepted and rejected
    steps, each (n,) (`integrate_cohort`'s arguments)."""
    n, m = inputs.n_subjects, len(compiled.system.compartments)
    ev = _events(epochs, inputs, m)
    t0 = np.minimum(0.0, np.minimum(times_h[0], _first(ev["time"], ev["offsets"])))
    autonomous = not uses_time(compiled.system)
    if kernel not in KERNELS:
        raise ValueError(f"engine option kernel is {kernel!r}; expected one of {list(KERNELS)}")
    reason = kernel_reason(method, ev["kind"])
    if kernel == "auto" and reason and method == "rodas5p" and m <= AUTO_MAX_STATES:
        return _by_child(compiled, epochs, inputs, times_h, rtol, atol_mg, ev, threads)
    if kernel == "numba" and reason:
        raise ValueError(f"engine option kernel is 'numba', but {reason}; use kernel='auto' or 'numpy'")
    large = kernel == "auto" and m > AUTO_MAX_STATES
    module = None if kernel == "numpy" or reason or large else kernel_module()
    if kernel == "numba" and module is None:
        raise ValueError(f"engine option kernel is 'numba', but {kernel_missing()}; {INSTALL}")
    if module is not None:
        model_rhs, model_jac = module.model_functions(*compiled.lane_sources(module.LANES))
        parts = [compiled.bind(p, p).static_parts() for p in epochs.params]
        statics = [np.stack([np.broadcast_to(q[k], (n, q[k].shape[1])) for q in parts]) for k in (0, 1)]
        into = -1 if inputs.infusion_into is None else int(inputs.infusion_into)
        out, steps, rejected = module.integrate(
            model_rhs,
            model_jac,
            *statics,
            into,
            ev,
            np.arange(n + 1) * times_h.size,
            times_h,  # every child's one grid (shared)
            t0,
            rtol,
            np.broadcast_to(np.asarray(atol_mg, dtype=float)[:, None], (n, m)),
            autonomous,
            threads,
            shared=True,
        )
        return out.reshape(n, times_h.size, m), steps, rejected
    kind, value, compartment = ev["kind"], ev["value"], ev["compartment"]
    state = _State(compiled, epochs, n)
    into = inputs.infusion_into

    def rhs(t, y, s):
        bound = state.bound(s)
        f = bound.rhs_by_compartment(t, y.T)
        if into is not None:
            f[into] += state.rate[s]
        return f.T

    def jac(t, y, s):
        return np.moveaxis(state.jacobian(t, y, s), 2, 0)

    def on_event(t, y, s, e):
        y = y.copy()
        k = kind[e]
        dose = np.flatnonzero(k == DOSE)
        if dose.size:
            y[dose, compartment[e[dose]]] += value[e[dose]]
        rate = np.flatnonzero(k == RATE)
        if rate.size:
            np.add.at(state.rate, s[rate], value[e[rate]])
        new = np.flatnonzero(k == EPOCH)
        if new.size:
            state.move(s[new], ev["epoch"][e[new]])
        steady = np.flatnonzero((k == STEADY) & (value[e] > 0))
        if steady.size:
            y[steady] = _steady(state, t[steady], y[steady], s[steady], e[steady], ev)
        return y

    result = integrate(
        rhs,
        jac,
        np.zeros((n, m)),
        event_offsets=ev["offsets"],
        event_times=ev["time"],
        on_event=on_event,
        output_offsets=np.arange(n + 1) * times_h.size,
        output_times=np.tile(times_h, n),
        t0=t0,
        rtol=rtol,
        atol=atol_mg,
        autonomous=autonomous,
        method=method,
    )
    return result.outputs.reshape(n, times_h.size, m), result.n_steps, result.n_rejected


def _by_child(compiled, epochs, inputs, times_h, rtol, atol_mg, ev, threads):
    """`integrate_amounts` under "auto" where some children have steady-state doses: those by
    numpy, the others by the kernel, each child by the path its own events choose (so its
    numbers never depend on the children it is batched with, e.g. the chunking)."""
    n, m = inputs.n_subjects, len(compiled.system.compartments)
    owner = np.repeat(np.arange(n), np.diff(ev["offsets"]))
    steady = np.zeros(n, dtype=bool)
    steady[owner[ev["kind"] == STEADY]] = True
    amounts = np.empty((n, times_h.size, m))
    steps, rejected = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for rows, kernel in ((np.flatnonzero(steady), "numpy"), (np.flatnonzero(~steady), "auto")):
        if rows.size:
            sub_epochs, sub_inputs = _subset(epochs, inputs, rows)
            amounts[rows], steps[rows], rejected[rows] = integrate_amounts(
                compiled,
                sub_epochs,
                sub_inputs,
                times_h,
                rtol,
                np.asarray(atol_mg)[rows],
                "rodas5p",
                kernel,
                threads,
            )
    return amounts, steps, rejected


def _subset(epochs, inputs, rows):
    """The epochs and inputs of the children at `rows` (sorted), CSR records kept in order."""
    counts = np.diff(inputs.offsets)[rows]
    offsets = np.r_[0, np.cumsum(counts)]
    take = (
        np.arange(offsets[-1])
        - np.repeat(offsets[:-1], counts)
        + np.repeat(inputs.offsets[:-1][rows], counts)
    )
    records = {
        name: getattr(inputs, name)[take]
        for name in ("times_h", "amounts_mg", "compartment", "ss", "ii_h", "since_h")
    }
    sub_inputs = SubjectInputs(offsets=offsets, infusion_into=inputs.infusion_into, **records)
    params = tuple({k: np.asarray(v)[rows] if np.ndim(v) else v for k, v in p.items()} for p in epochs.params)
    return Epochs(start_h=epochs.start_h, params=params), sub_inputs


def _observe(compiled, epochs, times_h, amounts, observe):
    """The outputs named in `observe`, each (n, n_times), from the amounts (n, n_times, m) at
    times_h, read after the integration: one call per epoch, not one per step. An output at
    an occasion's start reports the state before its events, so the epoch that ends there."""
    epoch = np.maximum(np.searchsorted(epochs.start_h, times_h, side="left") - 1, 0)
    out = {name: np.empty(amounts.shape[:2]) for name in observe}
    for ep in np.unique(epoch):
        where = np.flatnonzero(epoch == ep)
        cols = slice(where[0], where[-1] + 1)  # sorted times: each epoch's outputs are adjacent
        params = epochs.params[ep]
        read = compiled.bind(params, params).outputs(times_h[cols], amounts[:, cols])
        for name in observe:
            out[name][:, cols] = read[name]
    return out


def _first(times, offsets):
    """Each child's first event time (inf: none), shape (n,)."""
    has = np.diff(offsets) > 0
    first = np.full(offsets.size - 1, np.inf)
    first[has] = times[offsets[:-1][has]]
    return first


def _steady(state, t, y, s, e, ev):
    """States (k, m) after steady-state events e of children s: NONMEM SS=1 resets, SS=2 adds.

    The steady state of a linear system, exactly: x = (I - Phi(ii))^-1 dose,
    then Phi(since) x when the last lagged dose arrived `since` h before
    (common._arrivals).
    """
    epoch = state.epochs.at(t)  # a dose at an occasion's start: the new occasion's (as F)
    rates = np.empty((y.shape[1], y.shape[1], s.size))  # K, (m, m, k)
    for ep in np.unique(epoch):
        here = np.flatnonzero(epoch == ep)
        params = {name: v[s[here]] for name, v in state.epochs.params[ep].items()}
        rates[:, :, here] = np.transpose(state.compiled.rate_matrix(params, params), (1, 2, 0))
    x = steady_state(expm(rates * ev["ii"][e]), ev["value"][e], ev["compartment"][e])  # (m, k)
    since = ev["since"][e]
    later = since > 0
    if later.any():
        phi = expm(rates[:, :, later] * since[later])
        x[:, later] = np.einsum("ijk,jk->ik", phi, x[:, later])
    x = x.T
    adds = ev["ss"][e] == 2
    x[adds] += y[adds]
    return x


class _State:
    """Per child: the epoch in effect (its parameters and covariates) and the infusion rate
    (mg/h). The system is bound once for the whole cohort (again after an epoch change); the
    children being stepped get its subset, kept while the same set is stepped."""

    def __init__(self, compiled, epochs, n):
        self.compiled, self.epochs = compiled, epochs
        self.epoch = np.zeros(n, dtype=np.intp)
        self.rate = np.zeros(n)
        self.params = {k: np.array(v, dtype=float) for k, v in epochs.params[0].items()}
        self.linear = compiled.is_linear
        self._whole = None
        self._cache = []  # [subjects array, bound subset, jacobian or None], the last two

    def move(self, s, epoch):
        """Children s enter these epochs (occasions): their parameters change."""
        self.epoch[s] = epoch
        for ep in np.unique(epoch):
            here = s[epoch == ep]
            for name, v in self.epochs.params[ep].items():
                self.params[name][here] = v[here]
        self._whole, self._cache = None, []

    def _entry(self, s):
        for k, entry in enumerate(self._cache):
            if entry[0] is s:
                if k:  # the most recent first: the stepped set stays beside each landing's
                    self._cache = [entry] + self._cache[:k] + self._cache[k + 1 :]
                return entry
        if self._whole is None:
            self._whole = self.compiled.bind(self.params, self.params)  # each takes its names
        entry = [s, self._whole.subset(s), None]
        self._cache = [entry] + self._cache[:1]
        return entry

    def bound(self, s):
        return self._entry(s)[1]

    def jacobian(self, t, y, s):
        """d rhs / d y, (m, m, k); computed once per set of children for a linear system."""
        entry = self._entry(s)
        if self.linear:
            if entry[2] is None:
                entry[2] = entry[1].jacobian_by_compartment(t, y.T)
            return entry[2]
        return entry[1].jacobian_by_compartment(t, y.T)
