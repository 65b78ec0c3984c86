"""`pkmodel compare --n 1000000` in bounded memory: every child's exposure, chunk by chunk, and
the curves of the first 10,000 children (issue 12, item 16)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

ENTRY_POINT = Path(sys.executable).with_name("pkmodel")  # the installed console script
# runs the command line, then prints the peak resident memory of its children (kB on Linux):
# measured in a process of its own, so no earlier test's children count
PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux")
def test_compare_of_a_million_children_peaks_under_2_gb(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK,
            str(ENTRY_POINT),
            "compare",
            "--n",
            "1000000",
            "--quiet",
            "--out",
            str(out),
            "--regimen",
            "TID=2 mg/kg/day TID for 14 days, max 20 mg/dose, max 80 mg/day",
            "--regimen",
            "QID=2 mg/kg/day QID for 14 days, max 20 mg/dose, max 80 mg/day",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    peak_gb = int(done.stdout.splitlines()[-1]) * 1024 / 1e9
    # held: 16 numbers of exposure per child and regimen, the parameters, the cohort and the
    # curves of 10,000 children (0.1 GB); every curve of a million children would be 10.8 GB
    assert peak_gb < 2.0, f"peak {peak_gb:.2f} GB"
    summary = pd.read_csv(out / "summary.csv")
    counted = summary[summary["metric"] == "cavg (ng/mL)"].groupby("regimen")["n"].sum()
    assert counted.to_dict() == {"QID": 1_000_000, "TID": 1_000_000}  # every child's exposure
    times = 14 * 48 + 1  # 0 to 336 h every 0.5 h
    assert pq.ParquetFile(out / "concentrations.parquet").metadata.num_rows == 2 * 10_000 * times
    assert "the first 10,000 of 1,000,000 children (`--curves`)" in (out / "report.md").read_text()
