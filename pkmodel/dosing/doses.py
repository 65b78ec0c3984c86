"""What each child receives: the engines' input.

Two layouts. `Doses`: dose times shared by the cohort (a Regimen's schedule,
or an event table whose children share most of their times), amounts per
child. `SubjectDoses`: each child's own doses, stored flat with offsets (CSR:
child i's doses are records offsets[i]:offsets[i + 1]), for event tables
whose children dose at their own times; its size is the number of doses,
never children x all dose times. `Doses.per_subject()` gives either layout
as `SubjectDoses`.
"""

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .. import _display
from .._checks import readonly, refuse_first
from ._flat import by_subject, frozen, order_by, union_amounts, union_columns  # noqa: F401 (re-exported)

# The default of a per-dose field (compartment, ss, ii_h, rate_mg_per_h): replaced by zeros,
# one per dose, when the value is checked (an array, so that the field's type says what it
# holds once built; None is taken too).
_PER_DOSE_DEFAULT = readonly(np.zeros(0))


def per_dose_default() -> np.ndarray:
    """The marker a per-dose field holds until it is filled in (zeros, one per dose)."""
    return _PER_DOSE_DEFAULT


# A union of every child's dose times (one shared column per distinct time) is
# used when it holds at most this many entries per dose actually given;
# otherwise each child keeps its own doses (SubjectDoses).
UNION_MAX_FILL = 4


@dataclass(frozen=True, eq=False)
class Doses:
    """Doses for a cohort: times shared by every subject, amounts per subject.

    Parameters
    ----------
    time_h : ndarray, shape (n_doses,)
        Non-decreasing, h; doses at the same time add. Doses at one time are
        given in their order here (a steady-state dose resets what came before
        it at that time, not what comes after: NONMEM's record order).
    amount_mg : ndarray, shape (n_subjects, n_doses)
        >= 0, mg (0: no dose for that subject at that time).
    compartment : ndarray of int, shape (n_doses,), optional
        Index into the structure's compartments (0, the depot, by default).
        Bioavailability F and lag tlag apply to depot doses only.
    ss : ndarray of int, shape (n_doses,), optional
        NONMEM SS: 0 an ordinary dose; 1 the dose brings its subject to the
        steady state of this dose given every ii_h (amounts reset first);
        2 the same steady state added to what is there. With a lag, the
        steady state is that at time_h of the doses given every ii_h before
        it, the lagged ones still to arrive included (NONMEM).
    ii_h : ndarray, shape (n_doses,), optional
        Dosing interval of a steady-state dose, h (> 0 where ss > 0).
    offset_h : ndarray, shape (n_subjects, n_doses), optional
        When each subject took each dose relative to time_h, h (timing
        jitter); time_h stays the schedule (dosing intervals, exposure windows).
    rate_mg_per_h : ndarray, shape (n_doses,), optional
        0 for a bolus (default); > 0 for a zero-order input at that rate,
        lasting amount / rate h. Two infusions at one time run side by side
        (their rates add).
    missed_mg : ndarray, shape (n_subjects, n_doses), optional
        What a subject was to take but missed, mg (amount_mg is 0 there):
        the schedule, which exposure windows follow, is amount_mg + missed_mg.
    """

    time_h: np.ndarray
    amount_mg: np.ndarray
    compartment: np.ndarray = field(default_factory=per_dose_default)
    ss: np.ndarray = field(default_factory=per_dose_default)
    ii_h: np.ndarray = field(default_factory=per_dose_default)
    offset_h: np.ndarray | None = None
    rate_mg_per_h: np.ndarray = field(default_factory=per_dose_default)
    missed_mg: np.ndarray | None = None

    def __repr__(self) -> str:
        return _display.text(_display.doses(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.doses(self))

    @property
    def actual_time_h(self) -> np.ndarray:
        """When each dose was taken: shape (n_doses,), or (n_subjects, n_doses) with jitter."""
        return self.time_h if self.offset_h is None else self.time_h[None, :] + self.offset_h

    @property
    def n_subjects(self) -> int:
        return self.amount_mg.shape[0]

    def __post_init__(self):
        n = np.shape(self.time_h)[-1]
        _per_dose_fields(self, n)

    def largest_mg(self) -> np.ndarray:
        """Each subject's largest single dose, mg, shape (n_subjects,) (0 for none)."""
        return self.amount_mg.max(axis=1, initial=0.0)

    def subjects(self, start: int, stop: int) -> "Doses":
        """The doses of subjects start..stop-1 (0-based positions)."""
        return replace(
            self,
            **{
                name: value[start:stop]
                for name in ("amount_mg", "offset_h", "missed_mg")
                if (value := getattr(self, name)) is not None
            },
        )

    def per_subject(self) -> "SubjectDoses":
        """Each subject's doses given (amount > 0), in the order taken, as `SubjectDoses`."""
        records = self.records()
        offsets = np.r_[0, np.cumsum(np.bincount(records.subject, minlength=self.n_subjects))]
        return SubjectDoses(offsets, *records[2:])

    def records(self) -> "FlatDoses":
        """Each subject's doses given (amount > 0), in the order taken, flat (`FlatDoses`)."""
        given = self.amount_mg > 0
        subject, column = np.nonzero(given)  # row-major: by subject, then dose
        times = self.time_h[column] if self.offset_h is None else self.actual_time_h[given]
        order, _ = by_subject(self.n_subjects, subject, times)  # jitter may swap two
        column = column[order]
        return FlatDoses(
            self.n_subjects,
            subject[order],
            times[order],
            self.amount_mg[given][order],
            self.compartment[column],
            self.ss[column],
            self.ii_h[column],
            self.rate_mg_per_h[column],
        )


class FlatDoses(NamedTuple):
    """Doses as flat records sorted by subject, then time (doses at one time in their order):
    what the engines read, without the checks and copies of a `SubjectDoses`. Every field but
    n_subjects has shape (n_records,), with the meaning it has in `SubjectDoses`."""

    n_subjects: int
    subject: np.ndarray
    time_h: np.ndarray
    amount_mg: np.ndarray
    compartment: np.ndarray
    ss: np.ndarray
    ii_h: np.ndarray
    rate_mg_per_h: np.ndarray


@dataclass(frozen=True, eq=False)
class SubjectDoses:
    """Each subject's own doses, flat: subject i's are records offsets[i]:offsets[i + 1].

    Build with `SubjectDoses.from_records` (which sorts), or `Doses.per_subject()`.

    Parameters
    ----------
    offsets : ndarray of int, shape (n_subjects + 1,)
        Non-decreasing from 0 to n_records.
    time_h : ndarray, shape (n_records,)
        When each dose was taken, h; non-decreasing within a subject (doses at
        one time are given in their order, as in `Doses`).
    amount_mg : ndarray, shape (n_records,)
        >= 0, mg.
    compartment, ss, ii_h, rate_mg_per_h : ndarray, shape (n_records,), optional
        As in `Doses`, one per record.
    """

    offsets: np.ndarray
    time_h: np.ndarray
    amount_mg: np.ndarray
    compartment: np.ndarray = field(default_factory=per_dose_default)
    ss: np.ndarray = field(default_factory=per_dose_default)
    ii_h: np.ndarray = field(default_factory=per_dose_default)
    rate_mg_per_h: np.ndarray = field(default_factory=per_dose_default)

    def __repr__(self) -> str:
        return _display.text(_display.doses(self))

    def _repr_html_(self) -> str:
        return _display.html(_display.doses(self))

    def __post_init__(self):
        offsets = readonly(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "time_h", frozen(self.time_h, float))
        object.__setattr__(self, "amount_mg", frozen(self.amount_mg, float))
        n = self.time_h.size
        if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 0):
            raise ValueError(
                f"SubjectDoses.offsets runs {offsets[0]} .. {offsets[-1]}; expected "
                f"non-decreasing offsets from 0 to the {n} records"
            )
        if self.amount_mg.shape != (n,):
            raise ValueError(f"SubjectDoses.amount_mg has shape {self.amount_mg.shape}; expected ({n},)")
        _per_dose_fields(self, n)
        refuse_first(~np.isfinite(self.time_h), "SubjectDoses.time_h", self.time_h, "a finite time (h)")
        refuse_first(
            ~(np.isfinite(self.amount_mg) & (self.amount_mg >= 0)),
            "SubjectDoses.amount_mg",
            self.amount_mg,
            "an amount >= 0 mg",
        )
        later = np.ones(n, dtype=bool)
        later[offsets[:-1][offsets[:-1] < n]] = False  # a subject's first record
        back = np.r_[False, (np.diff(self.time_h) < 0) & later[1:]]
        refuse_first(back, "SubjectDoses.time_h", self.time_h, "times that do not decrease within a subject")

    @classmethod
    def from_records(
        cls, n_subjects: int, subject: np.ndarray, time_h: np.ndarray, amount_mg: np.ndarray, **fields
    ) -> "SubjectDoses":
        """Records in any order (each subject's in the order given), sorted by subject then time.

        subject : ndarray of int, shape (n_records,), 0-based positions < n_subjects;
        time_h, amount_mg and `fields` (compartment, ss, ii_h, rate_mg_per_h): shape (n_records,).
        Records of one subject at one time keep their order.
        """
        order, offsets = by_subject(n_subjects, subject, time_h)
        return cls(
            offsets=offsets,
            time_h=time_h[order],
            amount_mg=amount_mg[order],
            **{k: np.asarray(v)[order] for k, v in fields.items()},
        )

    @property
    def n_subjects(self) -> int:
        return self.offsets.size - 1

    @property
    def counts(self) -> np.ndarray:
        """Doses per subject, shape (n_subjects,)."""
        return np.diff(self.offsets)

    @property
    def subject(self) -> np.ndarray:
        """The subject (0-based position) of each record, shape (n_records,)."""
        return np.repeat(np.arange(self.n_subjects), self.counts)

    def largest_mg(self) -> np.ndarray:
        """Each subject's largest single dose, mg, shape (n_subjects,) (0 for none)."""
        largest = np.zeros(self.n_subjects)
        np.maximum.at(largest, self.subject, self.amount_mg)
        return largest

    def repeated(self, times: int) -> "SubjectDoses":
        """The same subjects `times` over, one after the other (replicates share their doses)."""
        if times == 1:
            return self
        n = self.time_h.size
        offsets = np.r_[(self.offsets[:-1] + n * np.arange(times)[:, None]).ravel(), n * times]
        return SubjectDoses(
            offsets=offsets,
            **{
                name: np.tile(getattr(self, name), times)
                for name in ("time_h", "amount_mg", "compartment", "ss", "ii_h", "rate_mg_per_h")
            },
        )

    def subjects(self, start: int, stop: int) -> "SubjectDoses":
        """The doses of subjects start..stop-1 (0-based positions)."""
        a, b = self.offsets[start], self.offsets[stop]
        return SubjectDoses(
            offsets=self.offsets[start : stop + 1] - a,
            time_h=self.time_h[a:b],
            amount_mg=self.amount_mg[a:b],
            compartment=self.compartment[a:b],
            ss=self.ss[a:b],
            ii_h=self.ii_h[a:b],
            rate_mg_per_h=self.rate_mg_per_h[a:b],
        )

    def records(self) -> FlatDoses:
        """The doses given (amount > 0), flat (`FlatDoses`)."""
        given = self.amount_mg > 0
        fields = (self.time_h, self.amount_mg, self.compartment, self.ss, self.ii_h, self.rate_mg_per_h)
        if given.all():
            return FlatDoses(self.n_subjects, self.subject, *fields)
        return FlatDoses(self.n_subjects, self.subject[given], *(f[given] for f in fields))

    def per_subject(self) -> "SubjectDoses":
        """The doses given (amount > 0): the same layout."""
        given = self.amount_mg > 0
        if given.all():
            return self
        return SubjectDoses.from_records(
            self.n_subjects,
            self.subject[given],
            self.time_h[given],
            self.amount_mg[given],
            compartment=self.compartment[given],
            ss=self.ss[given],
            ii_h=self.ii_h[given],
            rate_mg_per_h=self.rate_mg_per_h[given],
        )

    def union(self) -> Doses | None:
        """The same doses on times shared by every subject, if that is small; else None.

        One column per distinct (time, place among the subject's doses at that
        time, compartment, rate, ss, ii): doses keep their order at one time and
        two alike at one time stay two. None when the columns would hold more
        than UNION_MAX_FILL entries per record (children at their own times).
        """
        keys = (self.compartment, self.rate_mg_per_h, self.ss, self.ii_h)
        slot, columns = union_columns(
            self.offsets,
            self.time_h,
            keys,
            max_columns=UNION_MAX_FILL * self.time_h.size // max(self.n_subjects, 1),
        )
        if columns is None:
            return None
        amount = union_amounts(self.offsets, slot, columns, self.amount_mg)
        amount.flags.writeable = False
        return Doses(
            time_h=columns[:, 0].copy(),
            amount_mg=amount,
            compartment=columns[:, 2].astype(np.int64),
            rate_mg_per_h=columns[:, 3].copy(),
            ss=columns[:, 4].astype(np.int64),
            ii_h=columns[:, 5].copy(),
        )


def _per_dose_fields(doses, n: int) -> None:
    """Fill and check compartment, ss, ii_h, rate_mg_per_h: one per dose (shape (n,))."""
    kind = type(doses).__name__
    for name, dtype in (
        ("compartment", np.int64),
        ("ss", np.int64),
        ("ii_h", float),
        ("rate_mg_per_h", float),
    ):
        values = getattr(doses, name)
        object.__setattr__(
            doses,
            name,
            frozen(
                np.zeros(n)
                if values is None or values is _PER_DOSE_DEFAULT
                else np.broadcast_to(values, (n,)),
                dtype,
            ),
        )
    refuse_first((doses.ss < 0) | (doses.ss > 2), f"{kind}.ss", doses.ss, "0, 1 or 2 (NONMEM SS)")
    refuse_first(
        (doses.ss > 0) & ~(doses.ii_h > 0),
        f"{kind}.ii_h",
        doses.ii_h,
        "an interval > 0 h for a steady-state dose",
    )
    refuse_first(
        ~(doses.rate_mg_per_h >= 0),
        f"{kind}.rate_mg_per_h",
        doses.rate_mg_per_h,
        "a rate >= 0 mg/h (0: a bolus)",
    )
