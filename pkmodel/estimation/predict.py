"""The prediction step: each subject's concentrations at its own observation times.

The engines simulate on one output grid shared by the subjects of a call. So
subjects are packed into blocks: subjects whose observation times are the same
set share a block and its grid; subjects with sets of their own are packed
together while the union of their times stays at most `MAX_BLOCK_TIMES` and the
block's output at most `MAX_BLOCK_CELLS` values (subjects × times: 16 MB), so
memory never grows as (all subjects × all distinct times). A block also drops
the dose columns none of its subjects takes.

This is the one place that would switch to per-subject output times once the
engines take them: `predict` keeps its signature, `layout` builds one block.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._arrays import unique_rows
from typing import cast

from ..dosing.doses import Doses, SubjectDoses

MAX_BLOCK_TIMES = 256
MAX_BLOCK_CELLS = 2**21
PER_DOSE = ("compartment", "ss", "ii_h", "rate_mg_per_h")  # one value per dose (column or record)


@dataclass(frozen=True, eq=False)
class Block:
    """Subjects simulated together on one grid.

    members : (n_members,) subject positions; times_h : (n_times,) the grid, h;
    doses : the members' doses (in member order); obs : (n_block_obs,)
    observation positions, with their member row and time column.
    """

    members: np.ndarray
    times_h: np.ndarray
    doses: Doses | SubjectDoses
    obs: np.ndarray
    obs_member: np.ndarray
    obs_time: np.ndarray


def layout(
    subject: np.ndarray, time_h: np.ndarray, n_subjects: int, doses: Doses | SubjectDoses
) -> tuple[Block, ...]:
    """Blocks covering every observation once.

    Parameters
    ----------
    subject : ndarray of int, shape (n_obs,)
        Position of each observation's subject, sorted (then by time).
    time_h : ndarray, shape (n_obs,)
        Observation times, h.
    doses : Doses (amount_mg shape (n_subjects, n_doses)) or SubjectDoses (each subject's own)
    """
    pair = unique_rows(np.stack([subject, time_h], axis=1))[0]  # (subject, time) sorted
    owner = pair[:, 0].astype(np.int64)
    count = np.bincount(owner, minlength=n_subjects)
    with_obs = np.flatnonzero(count)
    start = np.r_[0, np.cumsum(count)][:-1]
    width = int(count.max())
    padded = np.full((n_subjects, width), -1.0)  # times are >= 0: -1 pads a shorter set
    padded[owner, np.arange(owner.size) - start[owner]] = pair[:, 1]
    sets, group = unique_rows(padded[with_obs])
    by_group = np.argsort(group, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(group, minlength=len(sets)))]
    blocks: list[Block] = []
    members: list[np.ndarray] = []
    union = np.empty(0)

    def close():
        if members:
            blocks.append(_block(np.concatenate(members), union, subject, time_h, doses))

    for g, times in enumerate(sets):  # over distinct time sets (setup, not the hot path)
        own = times[times >= 0]
        who = with_obs[by_group[bounds[g] : bounds[g + 1]]]
        grown = np.union1d(union, own)
        n_members = sum(m.size for m in members) + who.size
        if members and (grown.size > MAX_BLOCK_TIMES or n_members * grown.size > MAX_BLOCK_CELLS):
            close()
            members, grown = [], own
        rows = max(1, MAX_BLOCK_CELLS // grown.size)
        while who.size > rows:  # one set shared by more subjects than a block holds
            blocks.append(_block(who[:rows], own, subject, time_h, doses))
            who = who[rows:]
        members.append(who)
        union = grown
    close()
    return tuple(blocks)


def _block(members, times, subject, time_h, doses: Doses | SubjectDoses) -> Block:
    members = np.sort(members)
    position = np.full(int(subject.max()) + 1, -1)
    position[members] = np.arange(members.size)
    obs = np.flatnonzero(position[subject] >= 0)
    return Block(
        members=members,
        times_h=np.asarray(times, dtype=float),
        doses=subjects_of(doses, members) if isinstance(doses, SubjectDoses) else _columns(doses, members),
        obs=obs,
        obs_member=position[subject[obs]],
        obs_time=np.searchsorted(times, time_h[obs]),
    )


def _columns(doses: Doses, members: np.ndarray) -> Doses:
    """The members' doses, without the dose columns none of them takes."""
    compartment, ss, ii_h, rate = per_dose_fields(doses)
    amount = doses.amount_mg[members]
    used = amount.any(axis=0) | (ss > 0)
    used[:1] |= not used.any()  # the engines take one dose column at least
    return Doses(
        time_h=doses.time_h[used],
        amount_mg=amount[:, used],
        compartment=compartment[used],
        ss=ss[used],
        ii_h=ii_h[used],
        rate_mg_per_h=rate[used],
        offset_h=None if doses.offset_h is None else doses.offset_h[members][:, used],
    )


def per_dose_fields(doses: Doses | SubjectDoses) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The `PER_DOSE` fields: typed optional, never None (`Doses.__post_init__` fills them in)."""
    fields = tuple(getattr(doses, name) for name in PER_DOSE)
    return cast(tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], fields)


def subjects_of(doses: Doses | SubjectDoses, rows: np.ndarray) -> Doses | SubjectDoses:
    """The doses of the subjects at positions `rows` (in that order)."""
    if isinstance(doses, SubjectDoses):
        counts = doses.counts[rows]
        first = np.r_[0, np.cumsum(counts)[:-1]]
        records = np.arange(counts.sum()) + np.repeat(doses.offsets[:-1][rows] - first, counts)
        return SubjectDoses(
            offsets=np.r_[0, np.cumsum(counts)],
            time_h=doses.time_h[records],
            amount_mg=doses.amount_mg[records],
            **{k: v[records] for k, v in zip(PER_DOSE, per_dose_fields(doses))},
        )
    return dataclasses.replace(
        doses,
        **{
            name: value[rows]
            for name in ("amount_mg", "offset_h", "missed_mg")
            if (value := getattr(doses, name)) is not None
        },
    )


def predict(
    engine, model, params: dict, blocks: tuple[Block, ...], active: np.ndarray, n_obs: int
) -> np.ndarray:
    """Predicted concentration at every observation of the active subjects, mg/L.

    Parameters
    ----------
    engine, model : the registered engine (`pkmodel.engines.base`) and the model it simulates
    params : dict of ndarray, shape (n_subjects,)
        Individual parameters of every subject (L/h, L, 1/h, h, F).
    active : ndarray of bool, shape (n_subjects,)
        Subjects to predict; the others' observations are NaN.

    Returns
    -------
    ndarray, shape (n_obs,)
    """
    f = np.full(n_obs, np.nan)
    for block in blocks:  # over blocks (one for a shared design), vectorised over their subjects
        on = active[block.members]
        if not on.any():
            continue
        rows = block.members[on]
        doses = block.doses if on.all() else subjects_of(block.doses, np.flatnonzero(on))
        conc = engine.simulate(model, {k: v[rows] for k, v in params.items()}, doses, block.times_h)
        row_of = np.cumsum(on) - 1
        keep = on[block.obs_member]
        f[block.obs[keep]] = conc[row_of[block.obs_member[keep]], block.obs_time[keep]]
    return f
