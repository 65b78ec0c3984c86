import numpy as np
import pandas as pd

from pkmodel import cli


def test_main_job_writes_the_exposure_table_and_figure(tmp_path, capsys):
    assert cli.main(["--out", str(tmp_path / "out"), "--n", "200", "--seed", "3"]) == 0
    table = pd.read_csv(tmp_path / "out" / "tid_vs_qid_exposure.csv")
    assert (tmp_path / "out" / "tid_vs_qid.png").stat().st_size > 10_000
    assert table[["regimen", "metric"]].values.tolist() == [
        [r, f"{m} (ng/mL)"] for r in ("TID", "QID") for m in ("cmax", "cmin", "cavg")]
    assert (table["p5"] <= table["median"]).all() and (table["median"] <= table["p95"]).all()
    cavg = table[table["metric"] == "cavg (ng/mL)"].set_index("regimen")["median"]
    # target 305 ng/mL; the caps (TID 60 mg/day above 30 kg, QID 80 mg/day above 40 kg)
    # only lower it, TID more than QID, and CL IIV spreads it
    assert 150 < cavg["TID"] < cavg["QID"] < 330
    assert "TID" in capsys.readouterr().out
