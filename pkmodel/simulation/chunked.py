"""Many children: the cohort in chunks, exposure only, Parquet output, Dask.

`simulate(..., chunk_size=...)` runs the cohort `chunk_size` children at a
time. Child i's random effects depend only on the seed and i (fixed blocks
of ids, `pkmodel.population.variability`), each chunk is simulated as the children at
its positions, and the analytic engine computes each child's numbers apart
from the others in its batch: so the numbers are the same, bit for bit,
whatever the chunk size and however many workers run the chunks. (The ode
engine steps a chunk's stacked state together; there chunks agree to the
solver's tolerance, not bit for bit.)

- keep="concentrations" (default) assembles the usual `Result`.
- keep="exposure" computes `pk.exposure` on each chunk and keeps only that
  and each child's parameters (an `ExposureResult`): memory grows by the
  window, metrics, parameters and random effects of each child (18 numbers
  for the card model), never by n_subjects x n_times. Each child's window is
  its own (`pkmodel.analysis.windows`) and its exact metrics are computed apart from
  the others', so the chunking changes no number here either.
- out="dir/" writes each chunk's concentrations to `dir/part-000000.parquet`,
  ... (the long format of `pkmodel.io.tables`: id, time_h, conc_mg_L; read the whole dataset with
  `pandas.read_parquet("dir/")`), each file appearing whole: written under a
  hidden temporary name, then renamed.
- client=distributed.Client(...) (or backend="dask" for the client already
  running) maps the chunks over the cluster's workers, at most two per
  worker thread at a time; the workers write the part files themselves (so
  `out` must be a path the workers can reach).
"""

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._checks import is_number
from ..analysis.exposure import USED, check_range, exposure
from ..analysis.windows import STEADY_STATE, window_spec
from ..dosing.doses import Doses, SubjectDoses
from ..dosing.regimen import Regimen
from ..io.files import checked_path, remove_stale_temporaries
from ..io.provenance import provenance
from ..io.tables import long_columns, long_schema, long_table, write_parquet
from ..population.cohort import Cohort, cohort_rows
from .plan import Plan
from .result import ExposureResult, Result

KEEP = ("concentrations", "exposure")
BACKENDS = ("dask",)
CHUNK_BYTES = 64 * 2**20  # default chunk size: about this much concentration data per chunk


def simulate(
    plan: Plan, cohort: Cohort, *, chunk_size, keep: str, window, out, client, backend, target_range=None
) -> Result | ExposureResult:
    """Run `plan` (a checked `pkmodel.simulation.plan.Plan`) on `cohort` chunk by chunk.

    chunk_size : whole number >= 1, optional
        Children per chunk; default: as many as make about 64 MiB of
        concentrations (12,464 children for 673 output times).
    keep : "concentrations" (a Result) or "exposure" (an ExposureResult)
    window : "steady_state" (default: each child's own, `pkmodel.analysis.windows`) or (start, end)
        in h, the same for every child; keep="exposure" only
    target_range : (low, high), mg/L, optional; keep="exposure" only
        Adds each child's time below, in and above the range (`pk.exposure`).
    out : str or Path, optional
        A new or empty directory for the Parquet dataset of concentrations.
    client : distributed.Client, optional; backend : "dask", optional
    """
    size = _chunk_size(chunk_size, plan.times_h.size)
    if keep not in KEEP:
        raise ValueError(f"keep is {keep!r}; expected one of {list(KEEP)}")
    window = _window(window, keep)
    if target_range is not None:
        if keep != "exposure":
            raise ValueError(
                f"target_range is {target_range!r} with keep={keep!r}; a target "
                "range is for keep='exposure' (the metrics' range)"
            )
        target_range = check_range(target_range, "target_range")
    if plan.replicates:
        raise ValueError(
            f"replicates is {plan.replicates}; replicates are not simulated in "
            "chunks (chunk_size, keep='exposure', out, client): expected "
            "replicates=None, or one simulate call per replicate"
        )
    client = _client(client, backend)
    directory = _directory(out)
    n = len(cohort)
    bounds = [(a, min(a + size, n)) for a in range(0, n, size)]
    # an event table's dose times are those of all its rows: found once, the same in every chunk
    # (a Regimen's doses are drawn chunk by chunk, by position)
    whole = None if isinstance(plan.regimen, Regimen) else plan.doses(cohort)
    jobs = (
        (i, a, cohort_rows(cohort, a, b), None if whole is None else _dose_rows(whole, a, b))
        for i, (a, b) in enumerate(bounds)
    )
    task = _Task(
        plan=plan,
        keep=keep,
        window=window,
        target_range=target_range,
        out=directory,
        width=max(6, len(str(len(bounds) - 1))),
    )
    parts = (task(*job) for job in jobs) if client is None else _on_dask(client, task, jobs)
    columns = {}
    for index, arrays in parts:  # over chunks, as they finish
        a, b = bounds[index]
        for name, values in arrays.items():
            if name not in columns:
                columns[name] = np.empty((n,) + values.shape[1:], dtype=values.dtype)
            columns[name][a:b] = values

    individual = {name.split(".", 1)[1]: v for name, v in columns.items() if name.startswith("individual.")}
    common: dict[str, Any] = dict(
        times=plan.times_h,
        individual=individual,
        etas=columns["etas"],
        kappas=columns["kappas"],
        occasions=plan.starts,
        cohort=cohort,
        model=plan.model,
        engine=plan.engine.name,
        seed=plan.entropy,
        regimen=plan.regimen.label,
    )
    if keep == "concentrations":
        return Result(
            concentrations=columns["concentrations"],
            variability=plan.variability,
            doses=plan.doses(cohort) if whole is None else whole,
            **common,
        )
    metrics = {name.split(".", 1)[1]: v for name, v in columns.items() if name.startswith("exposure.")}
    metrics["method"] = pd.Categorical.from_codes(metrics["method"], categories=USED)
    frame = pd.DataFrame({"id": cohort.ids, **metrics}, copy=False)
    frame.attrs["method"] = frame["method"].iloc[0]
    return ExposureResult(exposure=frame, window=window, out=directory, **common)


@dataclasses.dataclass(frozen=True)
class _Task:
    """One chunk's work, here or on a worker: simulate, write, keep what is asked."""

    plan: Plan
    keep: str
    window: object
    target_range: tuple[float, float] | None
    out: Path | None
    width: int

    def __call__(
        self, index: int, first: int, cohort: Cohort, doses: Doses | SubjectDoses | None
    ) -> tuple[int, dict]:
        """Returns (index, per-child arrays by name)."""
        result = self.plan.run(cohort, first, doses)
        if self.out is not None:
            write_part(self.out / f"part-{index:0{self.width}d}.parquet", result)
        arrays = {"etas": result.etas, "kappas": result.kappas}
        if self.keep == "concentrations":
            arrays["concentrations"] = result.concentrations
            arrays.update({f"individual.{k}": v for k, v in result.individual.items()})
            return index, arrays
        arrays.update(
            {f"individual.{k}": v for k, v in result.individual.items() if k in self.plan.model.parameters}
        )
        frame = exposure(result, window=self.window, target_range=self.target_range)
        for name, values in frame.drop(columns="id").items():  # categories as their codes
            arrays[f"exposure.{name}"] = (
                values.cat.codes.to_numpy()
                if isinstance(values.dtype, pd.CategoricalDtype)
                else values.to_numpy()
            )
        return index, arrays


def write_part(path: Path, result: Result) -> None:
    """A Result's concentrations as one Parquet file in the long format (`pkmodel.io.tables`:
    id, time_h, conc_mg_L), its provenance in the schema metadata, written atomically (a
    hidden temporary file, renamed when whole; readers skip names starting with ".")."""
    record = provenance(
        result.model, result.seed, result.regimen, engine=result.engine, variability=bool(result.variability)
    )
    columns = long_columns(result.ids, result.times, result.concentrations)
    write_parquet(path, long_table(columns, long_schema(None)), record)


def _dose_rows(doses: Doses | SubjectDoses, a: int, b: int) -> Doses | SubjectDoses:
    """Children a..b-1 of `doses`."""
    return doses.subjects(a, b)


def _on_dask(client, task: _Task, jobs):
    """Yield each chunk's (index, arrays) as the workers finish them."""
    from distributed import as_completed

    in_flight = 2 * max(1, sum(client.nthreads().values()))
    # a plain function to submit: Dask names a task after its function, and the name of a
    # callable object is its repr (the whole plan, arrays printed)
    running = as_completed(
        [client.submit(_run, task, *job, pure=False) for job in itertools.islice(jobs, in_flight)],
        with_results=True,
    )
    for _, part in running:
        yield part
        job = next(jobs, None)
        if job is not None:
            running.add(client.submit(_run, task, *job, pure=False))


def _run(task: _Task, *job):
    return task(*job)


def _chunk_size(chunk_size, n_times: int) -> int:
    if chunk_size is None:
        return max(1, CHUNK_BYTES // (8 * n_times))
    if not is_number(chunk_size):
        raise TypeError(
            f"chunk_size is a {type(chunk_size).__name__} ({chunk_size!r}); expected "
            "a whole number of children >= 1"
        )
    if not (float(chunk_size).is_integer() and chunk_size >= 1):
        raise ValueError(f"chunk_size is {chunk_size!r}; expected a whole number of children >= 1")
    return int(chunk_size)


def _window(window, keep: str):
    if window is None:
        return STEADY_STATE
    if keep != "exposure":
        raise ValueError(
            f"window is {window!r} with keep={keep!r}; a window is for keep='exposure' (the metrics' window)"
        )
    return window_spec(window, where="simulate")


def _client(client, backend):
    """The Dask client to run on, or None to run here."""
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend is {backend!r}; expected 'dask' or None (this process)")
    if client is None and backend is None:
        return None
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "client= and backend='dask' need dask.distributed: pip install 'pkmodel[dask]'"
        ) from None
    if client is None:
        try:
            return distributed.get_client()
        except ValueError:
            raise ValueError(
                "backend is 'dask' but no Dask client is running; expected "
                "client=distributed.Client(...) or a Client made before"
            ) from None
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client is a {type(client).__name__}; expected a dask.distributed.Client")
    return client


def _directory(out) -> Path | None:
    """The dataset directory, made if new; refused if it is a file or holds anything (but
    temporaries of dead processes, removed first)."""
    if out is None:
        return None
    path = checked_path(out, "out", "a directory path").resolve()  # absolute: workers may run elsewhere
    if path.exists() and not path.is_dir():
        raise ValueError(f"out is {str(out)!r}, a file; expected a directory for the Parquet dataset")
    if path.is_dir():
        remove_stale_temporaries(path)  # a killed run's part files under their temporary names
    if path.is_dir() and any(path.iterdir()):
        raise ValueError(
            f"out is {str(out)!r}, a directory that is not empty; expected a new or "
            "empty directory (old part files would mix with the new)"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path
