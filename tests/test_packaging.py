"""The bundled model files travel with a plain, non-editable install."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_params_and_load_model_finds_them(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(tmp_path / "dist"), str(ROOT)], check=True,
                   capture_output=True)
    wheel, = (tmp_path / "dist").glob("pkmodel-*.whl")
    assert "pkmodel/params/baclofen_cp_card.toml" in zipfile.ZipFile(wheel).namelist()
    assert "pkmodel/data/formulations.toml" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = ("import pkmodel, sys; m = pkmodel.load_model('baclofen_cp_card'); "
            "print(pkmodel.__file__); print(m.parameters['CL'].value); "
            "print(pkmodel.bundled_formulations()['tablet'].step_mg)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "PYTHONNOUSERSITE": "1"}).stdout.split()
    assert out[0].startswith(str(target)) and out[1] == "0.273" and out[2] == "2.5"
