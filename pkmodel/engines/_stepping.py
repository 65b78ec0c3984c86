"""The stepping of `_integrator.integrate`: every subject's steps (Rodas5P or DOP853),
step-size control, landing on events and dense outputs, on the subjects still integrating
(the module docstring of `_integrator` says what is held per subject)."""

from dataclasses import dataclass

import numpy as np

from . import _dop853, _rodas

SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0  # scipy.integrate._ivp.rk
# central differences for df/dt when it is not given: error O(delta**2) = O(eps**(2/3))
_DT_DELTA = np.finfo(float).eps ** (1 / 3)


@dataclass(frozen=True)
class Integration:
    """What `integrate` returns.

    outputs : ndarray, shape (n_outputs, q)
        `observe` at each output, in the CSR order of output_times.
    n_steps, n_rejected : ndarray, shape (n_subjects,)
        Accepted and rejected steps of each subject.
    stiff : ndarray of bool, shape (n_subjects,)
        Whether the subject was stepped by Rodas5P (True) or DOP853.
    """

    outputs: np.ndarray
    n_steps: np.ndarray
    n_rejected: np.ndarray
    stiff: np.ndarray


class _Run:
    """The state of one `integrate` call: the active subjects, their times, steps and pointers,
    stepped by one method (`_rodas` or `_dop853`); `integrate` may be called again on other
    subjects, into the same outputs and counts.

    States are held subjects last, y shape (m, k) for the k active subjects
    (each state one contiguous row); the callbacks see (k, m) views.
    """

    def __init__(
        self,
        rhs,
        jac,
        on_event,
        observe,
        dfdt,
        autonomous,
        dense,
        max_step,
        rtol,
        event_times,
        output_times,
        output_after,
        n,
    ):
        self.rhs, self.jac, self.on_event, self.observe = rhs, jac, on_event, observe
        self.dfdt, self.autonomous, self.dense, self.rtol = dfdt, autonomous, dense, rtol
        self.max_step = max_step  # (n,), each subject's
        self.event_times, self.output_times, self.output_after = event_times, output_times, output_after
        self.results = None
        self.n_steps = np.zeros(n, dtype=np.int64)
        self.n_rejected = np.zeros(n, dtype=np.int64)

    def integrate(self, method, subjects, y0, t0, atol, event_offsets, output_offsets):
        """Steps these subjects (ndarray of int) by `method` (`_rodas` or `_dop853`)."""
        self.method = method
        self.exponent = -1.0 / (method.ERROR_ORDER + 1)
        sid = subjects[np.diff(output_offsets)[subjects] > 0]
        a = self.active = {
            "sid": sid,
            "t": t0[sid],
            "y": y0[sid].T.copy(),
            "atol": atol[sid].T.copy(),
            "max_step": self.max_step[sid],
            "ev": event_offsets[sid],
            "ev_end": event_offsets[sid + 1],
            "out": output_offsets[sid],
            "out_end": output_offsets[sid + 1],
            "rejected": np.zeros(sid.size, dtype=bool),
            "h": np.full(sid.size, np.nan),
            # the step proposed after the first step accepted after the subject's last event
            # (NaN: none yet), and whether that step is still to come
            "h_event": np.full(sid.size, np.nan),
            "fresh": np.zeros(sid.size, dtype=bool),
        }
        a["last"] = self.output_times[a["out_end"] - 1]
        a["next_ev"] = _next(self.event_times, a["ev"], a["ev_end"])
        a["next_out"] = _next(self.output_times, a["out"], a["out_end"])
        if sid.size:
            self._reset_step(np.arange(sid.size))
        while a["sid"].size:
            at = np.flatnonzero((a["t"] == a["next_out"]) | (a["t"] == a["next_ev"]))
            if at.size:
                self._land(at)
                done = np.isinf(a["next_out"])
                if done.any():
                    self._compact(~done)
                    if not a["sid"].size:
                        break
            self._step()

    def _record(self, index, t, y, subjects):
        """Outputs `index` (flat) from states y, (m, r), of these subjects at times t."""
        values = np.asarray(self.observe(t, y.T, subjects), dtype=float)
        if self.results is None:
            self.results = np.full((self.output_times.size, values.shape[1]), np.nan)
        self.results[index] = values

    def _land(self, at):
        """Outputs and events at the current time of the active subjects `at`."""
        a = self.active
        t, sid, y = a["t"].take(at), a["sid"].take(at), _take(a["y"], at)
        ptr, end = a["out"].take(at), a["out_end"].take(at)
        after = []  # outputs to report once the events are applied
        while True:
            here = np.flatnonzero(_at(self.output_times, ptr, end, t))
            if not here.size:
                break
            index = ptr[here]
            later = self.output_after[index]
            now = here[~later]
            if now.size:
                self._record(index[~later], t[now], _take(y, now), sid[now])
            if now.size < here.size:
                after.append((here[later], index[later]))
            ptr[here] += 1
        ev, ev_end = a["ev"].take(at), a["ev_end"].take(at)
        first = ev.copy()
        while True:
            here = np.flatnonzero(_at(self.event_times, ev, ev_end, t))
            if not here.size:
                break
            _put(y, here, np.transpose(self.on_event(t[here], _take(y, here).T, sid[here], ev[here])))
            ev[here] += 1
        for here, index in after:
            self._record(index, t[here], _take(y, here), sid[here])
        _put(a["y"], at, y)
        a["out"][at], a["ev"][at] = ptr, ev
        a["next_out"][at] = _next(self.output_times, ptr, end)
        a["next_ev"][at] = _next(self.event_times, ev, ev_end)
        moved = at[ev != first]
        if moved.size:
            self._restart(moved)

    def _compact(self, keep):
        a = self.active
        for key, value in a.items():
            a[key] = np.compress(keep, value, axis=-1)

    def _target(self, at=slice(None)):
        a = self.active
        return np.minimum(a["next_ev"][at], (a["last"] if self.dense else a["next_out"])[at])

    def _restart(self, at):
        """The step size of subjects `at` after their events: the one proposed after the first
        step accepted after their previous event (a repeated dose repeats the transient that
        follows it), else `_reset_step`'s. Either is only a first try: the error control
        rejects a step too long."""
        a = self.active
        h = a["h_event"][at]
        known = np.isfinite(h)
        if not known.all():
            self._reset_step(at[~known])
        a["h"][at[known]] = np.minimum(h[known], a["max_step"][at[known]])
        a["rejected"][at[known]] = False
        a["fresh"][at] = True

    def _reset_step(self, at):
        """scipy's select_initial_step (Hairer, Norsett & Wanner, Sec. II.4) for subjects `at`."""
        a = self.active
        t, y, sid = a["t"].take(at), _take(a["y"], at), a["sid"].take(at)
        span = self._target(at) - t
        scale = _take(a["atol"], at) + np.abs(y) * self.rtol
        f0 = np.transpose(self.rhs(t, y.T, sid))
        d0 = _norm(y / scale)
        d1 = _norm(f0 / scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
            h0 = np.where(span > 0, np.minimum(h0, span), h0)
            f1 = np.transpose(self.rhs(t + h0, (y + h0 * f0).T, sid))
            d2 = _norm((f1 - f0) / scale) / h0
            big = np.maximum(d1, d2)
            h1 = np.where(
                big <= 1e-15, np.maximum(1e-6, h0 * 1e-3), (0.01 / big) ** (1 / (self.method.ERROR_ORDER + 1))
            )
        a["h"][at] = np.minimum(np.minimum(100 * h0, h1), a["max_step"][at])
        a["rejected"][at] = False

    def _step(self):
        """One attempted step of every active subject, to at most its next landing time."""
        a = self.active
        t, y, sid, h_want = a["t"], a["y"], a["sid"], a["h"]
        target = self._target()
        span = target - t
        land = span <= h_want
        # a step just short of the target would leave a sliver: take two halves instead
        h = np.where(land, span, np.where(span < 2 * h_want, 0.5 * span, h_want))
        small = h < 10 * np.spacing(t)
        if small.any():
            i = np.flatnonzero(small)[0]
            raise RuntimeError(
                f"integrate: subject {sid[i]}'s step fell to {h[i]:.3g} h at "
                f"t = {float(t[i])!r} h (below the spacing of floating-point numbers "
                "there)"
            )
        yt = y.T
        f0 = np.transpose(self.rhs(t, yt, sid))
        if self.method is _dop853:
            y_new, work = _dop853.step(self.rhs, t, y, h, f0, sid)
        else:
            dfdt = None
            if self.dfdt is not None:
                dfdt = np.transpose(self.dfdt(t, yt, sid))
            elif not self.autonomous:
                delta = _DT_DELTA * np.maximum(1.0, np.abs(t))
                dfdt = (
                    np.transpose(self.rhs(t + delta, yt, sid)) - np.transpose(self.rhs(t - delta, yt, sid))
                ) / (2 * delta)
            y_new, work = _rodas.step(self.rhs, t, y, h, self.jac(t, yt, sid), f0, sid, dfdt)
        scale = np.maximum(np.abs(y), np.abs(y_new))
        scale *= self.rtol
        scale += a["atol"]
        err = self.method.error_norm2(work, h, scale)  # the squared norm
        ok = err <= 1.0  # NaN: rejected
        # SAFETY * err ** (-1 / (order + 1)), in float32: a step size needs no more digits
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            factor = SAFETY * np.exp(np.log(err.astype(np.float32)) * np.float32(0.5 * self.exponent))
        factor = factor.astype(float)
        grow = np.minimum(np.where(a["rejected"], 1.0, MAX_FACTOR), factor)
        shrink = np.fmax(MIN_FACTOR, factor)  # fmax: a NaN factor (a NaN error) shrinks most
        h_next = h * np.where(ok, grow, shrink)
        # a step cut short to land may keep the longer step it was allowed
        h_next = np.where(land & ok, np.maximum(h_next, np.minimum(h_want, h * factor)), h_next)
        acc = np.flatnonzero(ok)
        t_new = np.where(land, target, t + h)
        if self.dense:
            self._dense_outputs(acc, t, y, y_new, h, t_new, work)
        if acc.size == t.size:
            self.n_steps[sid] += 1
            a["y"], a["t"] = y_new, t_new
        else:
            self.n_steps[sid[acc]] += 1
            self.n_rejected[sid[~ok]] += 1
            _put(y, acc, _take(y_new, acc))
            t[acc] = t_new[acc]
        a["h"] = np.minimum(h_next, a["max_step"])
        first = a["fresh"] & ok
        if first.any():  # a step cut short to land says nothing of the step the subject allows
            whole = first & (h == h_want)
            a["h_event"][whole] = a["h"][whole]
            a["fresh"][first] = False
        a["rejected"] = ~ok

    def _dense_outputs(self, acc, t, y, y_new, h, t_new, work):
        """Outputs strictly inside the accepted steps `acc`, from the dense output."""
        a = self.active
        inside = acc[a["next_out"][acc] < t_new[acc]]
        if not inside.size:
            return
        last = self.output_times.size - 1
        ptr, end, stop = a["out"][inside], a["out_end"][inside], t_new[inside]
        rows, indices = [np.arange(inside.size)], [ptr]
        pos = rows[0]
        while True:  # the further outputs inside the same steps
            ptr = ptr + 1
            more = (ptr < end[pos]) & (self.output_times[np.minimum(ptr, last)] < stop[pos])
            if not more.any():
                break
            pos, ptr = pos[more], ptr[more]
            rows.append(pos)
            indices.append(ptr)
        row, index = np.concatenate(rows), np.concatenate(indices)
        a["out"][inside] += np.bincount(row, minlength=inside.size)
        a["next_out"][inside] = _next(self.output_times, a["out"][inside], end)
        y_in = _take(y, inside)
        coefficients = self.method.dense_coefficients(
            self.rhs,
            t[inside],
            y_in,
            _take(y_new, inside),
            h[inside],
            tuple(_take(w, inside) for w in work),
            a["sid"][inside],
        )
        which = inside[row]
        times = self.output_times[index]
        theta = (times - t[which]) / h[which]
        if row.size > inside.size:
            y_in, coefficients = _take(y_in, row), _take(coefficients, row)
        values = self.method.dense(theta, y_in, coefficients)
        self._record(index, times, values, a["sid"][which])


def _take(a, index):
    """a[:, index] for a of shape (m, k) (np.take: several times faster than fancy indexing)."""
    return np.take(a, index, axis=-1)


def _put(a, index, values):
    """a[:, index] = values, row by row (faster than a 2-d fancy assignment)."""
    for row, value in zip(a, values):
        row[index] = value


def _at(times, ptr, end, t):
    """Whether times[ptr] == t, for ptr < end."""
    if not times.size:
        return np.zeros(ptr.shape, dtype=bool)
    return (ptr < end) & (times[np.minimum(ptr, times.size - 1)] == t)


def _next(times, ptr, end):
    """times[ptr] where ptr < end, else inf."""
    if not times.size:
        return np.full(ptr.shape, np.inf)
    return np.where(ptr < end, times[np.minimum(ptr, times.size - 1)], np.inf)


def _norm(x):
    """Root-mean-square over each subject's states, x (m, k) (scipy.integrate._ivp.common.norm)."""
    return np.sqrt(np.mean(x * x, axis=0))
