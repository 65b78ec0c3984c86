"""Exposure windows: what a window argument means, and each subject's own windows.

`window_spec` is the one reading of a window, for `pk.exposure`, `pk.compare`
and `simulate(keep="exposure")`: "steady_state", or (start, end) in h.

A subject's windows come from the doses it was *scheduled* to get
(`scheduled_doses`: given + missed, at their scheduled times), never from the
other subjects' doses: a missed dose or timing jitter does not move a window
(a missed dose inside one shows as lower exposure), and chunking cannot change
one. Doses at one time count as one.

The end of a schedule repeats with a period of p doses: the smallest p
(1 to `MAX_DOSES_PER_PERIOD`) whose last p gaps between doses, and if possible
amounts, equal the p before them (two doses: one interval). p = 1 is a regular
interval (q8h: 8 h); 08:00/14:00/20:00 daily is p = 3, 24 h; Mon/Wed/Fri is
p = 3, 168 h. The steady-state window is one period that starts at a dose
after the period's longest gap (the 08:00 dose of 08/14/20; with equal gaps,
any dose): the last such period of the schedule, which ends where the next dose
would fall, if the simulated times reach that far, else the period before it.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._checks import is_number, plain
from .._display import short
from ..dosing.doses import Doses, SubjectDoses

STEADY_STATE = "steady_state"
MAX_DOSES_PER_PERIOD = 24
_LAST = 2 * MAX_DOSES_PER_PERIOD + 1  # doses read from each schedule's end to find its period
_AMOUNT_RTOL = 1e-9


def window_spec(window=None, start=None, end=None, where: str = "exposure"):
    """STEADY_STATE, or (start, end) in h (floats, finite, end > start), from `window` or start, end."""
    if window is not None and (start is not None or end is not None):
        raise ValueError(
            f"{where}: window is {window!r} and start/end are {start!r}/{end!r}; "
            "expected either a window or start and end, not both"
        )
    if window is None:
        if start is None or end is None:
            raise ValueError(
                f"{where}: start is {start!r} h and end is {end!r} h; expected both, "
                f"or window={STEADY_STATE!r}"
            )
        return _span(start, end)
    if isinstance(window, str) and window == STEADY_STATE:
        return STEADY_STATE
    if isinstance(window, (tuple, list)) and len(window) == 2:
        return _span(*window)
    raise ValueError(f"window is {short(window)}; expected {STEADY_STATE!r} or (start, end) in h")


def _span(start, end) -> tuple[float, float]:
    start, end = plain(start), plain(end)
    for name, value in (("start", start), ("end", end)):
        if not is_number(value) or not np.isfinite(value):
            raise ValueError(f"exposure window: {name} is {short(value)}; expected a number of hours")
    if not end > start:
        raise ValueError(f"exposure window: end is {end!r} h, start is {start!r} h; expected end > start")
    return float(start), float(end)


def scheduled_doses(doses: Doses | SubjectDoses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each subject was scheduled to get: the one place exposure reads `Doses`.

    Returns
    -------
    time_h : ndarray, shape (n_doses,), or (n_subjects, n_doses) for SubjectDoses
        Scheduled times (no timing jitter), non-decreasing, h; each subject's own
        for SubjectDoses (an event table's records, NaN after a subject's own).
    mg : ndarray, shape (n_subjects, n_doses)
        Given + missed, mg (0: not on the subject's schedule).
    compartment : ndarray of int, shape (n_doses,) or (n_subjects, n_doses)
    """
    if isinstance(doses, SubjectDoses):
        slot = np.arange(doses.time_h.size) - np.repeat(doses.offsets[:-1], doses.counts)
        shape = (doses.n_subjects, int(doses.counts.max(initial=0)))
        out = [np.full(shape, np.nan), np.zeros(shape), np.full(shape, -1, dtype=np.int64)]
        for o, values in zip(out, (doses.time_h, doses.amount_mg, doses.compartment)):
            o[doses.subject, slot] = values
        return out[0], out[1], out[2]
    mg = doses.amount_mg if doses.missed_mg is None else doses.amount_mg + doses.missed_mg
    assert doses.compartment is not None  # Doses.__post_init__ fills it (0, the depot)
    return doses.time_h, mg, doses.compartment


def rows_of(doses: Doses | SubjectDoses, n_rows: int) -> Doses | SubjectDoses:
    """`doses` for n_rows result rows: the cohort's repeated, replicate-major (replicates share doses)."""
    repeats = n_rows // doses.n_subjects
    if repeats == 1:
        return doses
    if isinstance(doses, SubjectDoses):
        return doses.repeated(repeats)
    return dataclasses.replace(
        doses,
        **{
            name: np.tile(value, (repeats, 1))
            for name in ("amount_mg", "offset_h", "missed_mg")
            if (value := getattr(doses, name)) is not None
        },
    )


@dataclass(frozen=True, eq=False)
class Schedule:
    """Each subject's scheduled dose times up to `until_h`, one per distinct time.

    time_h, mg, oral_mg : ndarray, shape (n_rows, k), left-aligned, NaN after
    a subject's own (h; mg in all; mg into the depot, where F applies);
    count : ndarray of int, shape (n_rows,); period : ndarray of int, shape
    (n_rows,), doses per period at the schedule's end (0: it does not repeat).
    """

    time_h: np.ndarray
    mg: np.ndarray
    oral_mg: np.ndarray
    count: np.ndarray
    tail_h: np.ndarray
    tail_mg: np.ndarray
    period: np.ndarray
    tol_h: float

    @classmethod
    def of(cls, doses: Doses | SubjectDoses, n_rows: int, until_h: float, oral: int = 0) -> "Schedule":
        """The schedules of `doses`, repeated to n_rows (replicates share doses); oral: the depot."""
        time_h, mg, compartment = scheduled_doses(doses)
        tol = 1e-9 * max(1.0, abs(until_h))
        oral_mg = mg if np.all(compartment == oral) else np.where(compartment == oral, mg, 0.0)
        if time_h.ndim == 2:  # each subject's own times: records at one time add
            times, total, oral_mg = _merge_same_times(time_h, mg, oral_mg)
        else:
            first = np.flatnonzero(np.r_[True, np.diff(time_h) > 0])  # columns at one time add
            times = time_h[first]
            total = mg
            if first.size < time_h.size:
                total, oral_mg = (np.add.reduceat(mg, first, axis=1), np.add.reduceat(oral_mg, first, axis=1))
        with np.errstate(invalid="ignore"):
            on = (total > 0) & (times <= until_h + tol)
        if times.ndim == 1 and on.shape[0] and (on == on[0]).all():  # one schedule for all
            keep = slice(None) if on[0].all() else on[0]  # (no copy if all)
            packed = [
                np.broadcast_to(times[keep], (on.shape[0], int(on[0].sum()))),
                total[:, keep],
                oral_mg[:, keep],
            ]
        else:
            rows, columns = np.nonzero(on)
            slot = (np.cumsum(on, axis=1) - 1)[rows, columns]
            packed = []
            for values in (np.broadcast_to(times, on.shape), total, oral_mg):
                out = np.full((on.shape[0], int(on.sum(axis=1).max(initial=0))), np.nan)
                out[rows, slot] = values[rows, columns]
                packed.append(out)
        repeats = (n_rows // on.shape[0], 1)
        packed = [np.tile(values, repeats) if repeats[0] > 1 else values for values in packed]
        count = np.tile(on.sum(axis=1), repeats[0])
        tail = _last(packed[0], packed[1], count)
        time_h, mg, oral_mg = packed
        return cls(
            time_h,
            mg,
            oral_mg,
            count=count,
            tail_h=tail[0],
            tail_mg=tail[1],
            period=_period(*tail, tol),
            tol_h=tol,
        )

    def next_dose_h(self) -> np.ndarray:
        """Where the dose after the last would fall if the period went on, h; NaN: it does not repeat."""
        t = self.tail_h
        rows = np.arange(t.shape[0])
        p = np.maximum(self.period, 1)
        after = t[:, -1] + t[rows, _LAST - p] - t[rows, _LAST - 1 - p]
        return np.where(self.period > 0, after, np.nan)

    def dose_in(self, start_h: np.ndarray, end_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scheduled mg in [start, end) per row: (into the depot, elsewhere), shape (n_rows,) each."""
        inside = (self.time_h >= start_h[:, None] - self.tol_h) & (self.time_h < end_h[:, None] - self.tol_h)
        oral = np.where(inside, self.oral_mg, 0.0).sum(axis=1)
        return oral, np.where(inside, self.mg, 0.0).sum(axis=1) - oral

    def trough_h(self, start_h: np.ndarray, end_h: np.ndarray) -> np.ndarray:
        """The last scheduled dose in (start, end], or the next dose's time if it falls there; NaN: none."""
        bounds = np.column_stack([self.time_h, self.next_dose_h()])
        inside = (bounds > start_h[:, None] + self.tol_h) & (bounds <= end_h[:, None] + self.tol_h)
        return _last_where(bounds, inside)

    def intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """Every dosing interval: start and end, h, shape (n_rows, k) (interval j + 1 from dose j);
        the last ends where the next dose would fall (NaN where the schedule does not repeat)."""
        ends = np.column_stack([self.time_h[:, 1:], np.full(self.count.shape, np.nan)])
        rows = np.arange(ends.shape[0])
        last = np.clip(self.count - 1, 0, None)
        if ends.shape[1]:
            ends[rows, last] = np.where(self.count > 0, self.next_dose_h(), np.nan)
        return self.time_h, ends


def _merge_same_times(time_h: np.ndarray, *amounts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each row's records at one time as one (amounts added), left-aligned, NaN-padded:
    time_h and amounts of shape (n, k), time_h non-decreasing along a row then NaN."""
    n, k = time_h.shape
    with np.errstate(invalid="ignore"):
        new = np.ones((n, k), dtype=bool)
        new[:, 1:] = time_h[:, 1:] != time_h[:, :-1]
    new &= ~np.isnan(time_h)
    slot = np.cumsum(new, axis=1) - 1  # the merged column of each record
    width = int(new.sum(axis=1).max(initial=0))
    rows = np.broadcast_to(np.arange(n)[:, None], (n, k))
    real = ~np.isnan(time_h)
    times = np.full((n, width), np.nan)
    times[rows[new], slot[new]] = time_h[new]
    out = [times]
    for values in amounts:
        merged = np.zeros((n, width))
        np.add.at(merged, (rows[real], slot[real]), values[real])
        out.append(merged)
    return tuple(out)


def _last_where(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, the last value where mask (values increase along a row); NaN where none."""
    found = mask.any(axis=1)
    at = values.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return np.where(found, values[np.arange(values.shape[0]), at], np.nan)


def steady_state_windows(
    schedule: Schedule, ids: np.ndarray, times_h: np.ndarray, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's steady-state window (module docstring): start, end, h, shape (n_rows,) each.

    A row whose schedule does not repeat, or whose window would start before
    the simulated times, is refused, naming its subject.
    """
    t, p, tol = schedule.tail_h, schedule.period, schedule.tol_h
    if np.array_equal(t, np.broadcast_to(t[:1], t.shape), equal_nan=True) and np.all(p == p[0]):
        start, end = (np.repeat(v, t.shape[0]) for v in _windows(t[:1], p[:1], tol, times_h[-1]))
    else:
        start, end = _windows(t, p, tol, times_h[-1])
    with np.errstate(invalid="ignore"):
        bad = (p == 0) | np.isnan(start) | (start < times_h[0] - tol)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        own_times = schedule.time_h[i, : schedule.count[i]]
        shown = ", ".join(f"{v:g}" for v in own_times[-8:])
        raise ValueError(
            f"{where}: window {STEADY_STATE!r}: child ID {plain(ids[i])} has no full dosing "
            f"interval that repeats inside the simulated times ({times_h[0]:g} to {times_h[-1]:g} h); "
            f"its scheduled dose times up to {times_h[-1]:g} h are [{shown}] h"
            f"{' (the last 8)' if own_times.size > 8 else ''}; expected doses at a repeating "
            "interval or daily pattern, or window=(start, end)"
        )
    return start, end


def _windows(t: np.ndarray, p: np.ndarray, tol: float, end_h: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each row's steady-state window (module docstring), NaN where none.

    t : the last doses, right-aligned (`_last`), shape (n, _LAST); p : their period, shape (n,).
    """
    rows = np.arange(t.shape[0])
    q = np.maximum(p, 1)
    gaps = t[:, :0:-1] - t[:, -2::-1]  # [:, r - 1]: the gap before the r-th dose from the end
    r = np.arange(1, MAX_DOSES_PER_PERIOD + 1)
    own = np.where(r <= q[:, None], gaps[:, :MAX_DOSES_PER_PERIOD], -np.inf)
    longest = own.max(axis=1)
    with np.errstate(invalid="ignore"):
        # the earliest of the last period's doses after its longest gap (ties: the period's first)
        after_longest = np.max(np.where(own >= longest[:, None] - tol, r, 1), axis=1)
        first = t[rows, _LAST - after_longest]
        period_h = t[:, -1] - t[rows, _LAST - 1 - q]
        fits = (after_longest == q) & (first + period_h <= end_h + tol)
    return (
        np.where(fits, first, t[rows, _LAST - after_longest - q]),
        np.where(fits, first + period_h, first),
    )


def _last(times: np.ndarray, mg: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last _LAST of each row's left-aligned values, right-aligned, NaN before: shape (n, _LAST)."""
    n, width = times.shape
    if width and (count == width).all():  # every row full: a slice
        out = np.full((2, n, _LAST), np.nan)
        out[0, :, -width:], out[1, :, -width:] = times[:, -_LAST:], mg[:, -_LAST:]
        return out[0], out[1]
    index = count[:, None] - _LAST + np.arange(_LAST)
    known = index >= 0
    if not width:
        return np.full(index.shape, np.nan), np.full(index.shape, np.nan)
    rows, safe = np.arange(n)[:, None], np.where(known, index, 0)
    return (np.where(known, times[rows, safe], np.nan), np.where(known, mg[rows, safe], np.nan))


def _period(t: np.ndarray, mg: np.ndarray, tol: float) -> np.ndarray:
    """Doses per period of each schedule's end, shape (n,); 0: none.

    t, mg : the last doses, right-aligned (`_last`). Period p holds over the
    gaps (and amounts) from the end back as far as each equals the one p doses
    earlier; the p held over the most gaps wins (the smallest on a tie), if it
    holds over at least one. Times and amounts first; where no period fits
    both, times alone (a titration step at the last dose).
    """
    count = np.sum(~np.isnan(t), axis=1)
    with np.errstate(invalid="ignore"):
        varies = ~np.all((np.abs(mg - mg[:, -1:]) <= _AMOUNT_RTOL * mg[:, -1:]) | np.isnan(mg), axis=1)
        found = np.zeros(t.shape[0], dtype=np.int64)
        found[varies] = _longest_period(t[varies], mg[varies], tol)
        rest = found == 0  # constant amounts: the times' period
        if np.array_equal(t, np.broadcast_to(t[:1], t.shape), equal_nan=True):
            found[rest] = _longest_period(t[:1], None, tol)[0]  # one schedule for all
        else:
            found[rest] = _longest_period(t[rest], None, tol)
    return np.where(count == 2, 1, found)  # two doses: one interval


def _longest_period(t: np.ndarray, mg: np.ndarray | None, tol: float) -> np.ndarray:
    """The period (`_period`) of times t and, unless None, amounts mg, shape (n,); 0: none."""
    gaps = t[:, :0:-1] - t[:, -2::-1]  # [:, r - 1]: the gap before the r-th dose from the end
    amounts = None if mg is None else mg[:, ::-1][:, :-1]  # [:, r - 1]: the r-th dose from the end
    whole = np.minimum(np.sum(~np.isnan(t), axis=1) - 1, gaps.shape[1])
    best = np.zeros(t.shape[0], dtype=np.int64)
    reach = np.zeros(t.shape[0], dtype=np.int64)
    for p in range(1, MAX_DOSES_PER_PERIOD + 1):  # over periods, vectorised over subjects
        rows = np.flatnonzero(reach < whole)  # held over every gap: no period can beat it
        if not rows.size:
            break
        g = gaps[rows]
        same = np.abs(g[:, :-p] - g[:, p:]) <= tol
        if amounts is not None:
            a = amounts[rows]
            same &= np.abs(a[:, :-p] - a[:, p:]) <= _AMOUNT_RTOL * a[:, p:]
        run = np.where(same.all(axis=1), same.shape[1], np.argmin(same, axis=1))  # from the end
        longer = (run >= 1) & (p + run > reach[rows])
        best[rows[longer]], reach[rows[longer]] = p, p + run[longer]
    return best
