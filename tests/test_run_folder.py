"""A run's folder is wholly one run's or untouched: `pkmodel compare --overwrite` killed at random
moments, and runs into one folder at once (issue 12, item 13)."""

import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pkmodel.io import provenance

# subprocesses, kernels or a cluster: `make test-fast` skips these, `make test` runs them
pytestmark = pytest.mark.slow

ENTRY_POINT = Path(sys.executable).with_name("pkmodel")  # the installed console script
# a small study: 20 children, two regimens over two days
JOB = [
    "compare",
    "--n",
    "20",
    "--quiet",
    "--regimen",
    "TID=2 mg/kg/day TID for 2 days, max 20 mg/dose",
    "--regimen",
    "QID=2 mg/kg/day QID for 2 days, max 20 mg/dose",
]
# files whose bytes depend only on the seed (the report, provenance.json and the Parquet
# file's metadata hold the command and the time of the run)
SEED_ONLY = ("parameters.csv", "exposures.csv", "summary.csv", "exposure_summary.csv", "pta.csv")


def start(out: Path, seed: int, *more: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ENTRY_POINT), *JOB, "--seed", str(seed), "--out", str(out), *more],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def whole_run(folder: Path, references: dict[int, dict[str, str]]) -> int:
    """The seed of the one run `folder` holds; fails unless it holds exactly that run's files,
    each matching the SHA-256 in provenance.json, every record naming the same seed and run,
    and the seed's tables as a run of that seed writes them."""
    sidecar = json.loads((folder / "provenance.json").read_text())
    assert {p.name for p in folder.iterdir()} == {*sidecar["files"], "provenance.json"}
    for name, digest in sidecar["files"].items():
        assert sha256(folder / name) == digest, name
    in_parquet = provenance.from_parquet(folder / "concentrations.parquet")  # its own record
    assert {k: in_parquet[k] for k in ("seed", "created_utc", "command")} == {
        k: sidecar[k] for k in ("seed", "created_utc", "command")
    }
    seed = sidecar["seed"]
    assert {name: sidecar["files"][name] for name in SEED_ONLY} == references[seed]
    return seed


def reference(folder: Path, seed: int) -> tuple[dict[str, str], float, float]:
    """A whole run of `seed` into folder/reference-{seed}: the SHA-256 of its seed-only files;
    when its folder began to be built and when the run ended (s after it started)."""
    out = folder / f"reference-{seed}"
    began = time.monotonic()
    run = start(out, seed)
    while not any(p.name.startswith(f".{out.name}.") for p in folder.iterdir()):
        if run.poll() is not None:
            break
        time.sleep(0.002)
    building = time.monotonic() - began
    assert run.wait() == 0, run.stderr.read()
    ended = time.monotonic() - began
    # every hash in provenance.json is of the bytes on disk
    sidecar = json.loads((out / "provenance.json").read_text())
    assert {name: sha256(out / name) for name in sidecar["files"]} == sidecar["files"]
    return {name: sha256(out / name) for name in SEED_ONLY}, building, ended


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """{seed: (SHA-256 of its seed-only files, s to the folder being built, s to the end)}."""
    folder = tmp_path_factory.mktemp("references")
    return {seed: reference(folder, seed) for seed in (11, 22)}


def kill_at_random_moments(out: Path, references, kills: int, rng: random.Random) -> set:
    """Run `--overwrite` into out (alternately seeds 11 and 22), SIGKILL each at a random moment,
    check the folder after each; returns the (killed, new run in place) seen."""
    digests = {seed: ref[0] for seed, ref in references.items()}
    assert start(out, 11).wait() == 0
    current, seen = 11, set()
    for _ in range(kills):
        other = 33 - current  # 11 <-> 22: the folder holds `current`
        run = start(out, other, "--overwrite")
        _, building, ended = references[other]
        # a moment while the run builds its folder aside, swaps it in or removes the old one
        # (a little past the reference's end too: this run may be slower)
        time.sleep(rng.uniform(0.9 * building, 1.1 * ended))
        run.send_signal(signal.SIGKILL)
        code = run.wait()
        seed = whole_run(out, digests)
        assert seed in (current, other)
        if code == 0:  # a run that ended has swapped its folder in
            assert seed == other
        seen.add((code == -signal.SIGKILL, seed == other))
        current = seed
    return seen


def test_a_killed_overwrite_leaves_the_old_run_or_the_new_one_whole(tmp_path, references):
    # 20 kills, in two lanes (two folders) at once: the machine's two cores
    lanes = [tmp_path / f"lane{i}" / "out" for i in (1, 2)]
    for out in lanes:
        out.parent.mkdir()
    with ThreadPoolExecutor(2) as pool:
        seen = set().union(
            *pool.map(
                kill_at_random_moments,
                lanes,
                [references] * 2,
                [10, 10],
                [random.Random(13), random.Random(14)],
            )
        )
    assert (True, False) in seen  # killed before the swap: the old run, whole
    # the folders the killed runs were building are hidden beside out/; the next run removes
    # them (their processes are dead)
    for out in lanes:
        assert start(out, 11, "--overwrite").wait() == 0
        assert [p.name for p in out.parent.iterdir()] == ["out"]
        whole_run(out, {seed: ref[0] for seed, ref in references.items()})


def test_two_overwrite_runs_at_once_leave_one_of_them_whole(tmp_path, references):
    out = tmp_path / "out"
    assert start(out, 11).wait() == 0
    runs = [start(out, seed, "--overwrite") for seed in (11, 22)]
    assert [run.wait() for run in runs] == [0, 0]  # both asked to replace the folder
    assert whole_run(out, {seed: ref[0] for seed, ref in references.items()}) in (11, 22)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_second_run_at_once_without_overwrite_is_refused_naming_the_option(tmp_path, references):
    out = tmp_path / "out"
    runs = [start(out, seed) for seed in (11, 22)]
    codes = [run.wait() for run in runs]
    assert sorted(codes) == [0, 1]
    message = runs[codes.index(1)].stderr.read()
    assert "--overwrite" in message and "overwrite=True" not in message, message
    assert len(message.splitlines()) == 1 and message.startswith("pkmodel: error: ")
    digests = {seed: ref[0] for seed, ref in references.items()}
    assert whole_run(out, digests) == (11, 22)[codes.index(0)]


def test_csv_concentrations_are_hashed_as_written(tmp_path):
    out = tmp_path / "out"
    run = start(out, 5, "--format", "csv")
    assert run.wait() == 0, run.stderr.read()
    sidecar = json.loads((out / "provenance.json").read_text())
    assert "concentrations.csv" in sidecar["files"]
    assert {name: sha256(out / name) for name in sidecar["files"]} == sidecar["files"]
