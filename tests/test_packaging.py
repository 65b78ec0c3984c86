"""The bundled model files and data travel with a plain, non-editable install."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# subprocesses, kernels or a cluster: `make test-fast` skips these, `make test` runs them
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_params_and_data_and_the_package_finds_them(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("pkmodel-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {
        "pkmodel/params/baclofen_cp_card.toml",
        "pkmodel/data/cdc2000_lms_2to20y.csv",
        "pkmodel/data/gmfcs_weight_z.toml",
        "pkmodel/data/README.md",
        "pkmodel/data/formulations.toml",
    } <= set(names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import pkmodel, sys; m = pkmodel.load_model('baclofen_cp_card'); "
        "print(pkmodel.__file__); print(m.parameters['CL'].value); "
        "c = pkmodel.Cohort.from_growth_charts(1, age_years=(10.0, 10.0), seed=1, gmfcs=3); "
        "print(pkmodel.growth.lms('weight_kg', 'M', 120.5 / 12)[1]); "
        "print(pkmodel.bundled_formulations()['tablet'].step_mg)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(target), "PYTHONNOUSERSITE": "1"},
    ).stdout.split()
    # the CDC median weight of boys at 120.5 months, read from the installed CSV
    assert (
        out[0].startswith(str(target))
        and out[1] == "0.273"
        and float(out[2]) == 32.08799062
        and out[3] == "2.5"
    )
