import numpy as np
import pandas as pd

from pkmodel import cli

BANDS = ("2-6 y", "7-11 y", "12-17 y")
METRICS = ("weight (kg)", "dose (mg/kg/day)", "cmax (ng/mL)", "cmin (ng/mL)", "cavg (ng/mL)")


def test_main_job_writes_the_exposure_table_by_age_band_and_figure(tmp_path, capsys):
    assert cli.main(["--out", str(tmp_path / "out"), "--n", "200", "--seed", "3"]) == 0
    table = pd.read_csv(tmp_path / "out" / "tid_vs_qid_exposure.csv")
    assert (tmp_path / "out" / "tid_vs_qid.png").stat().st_size > 10_000
    assert table[["regimen", "age_band", "metric"]].values.tolist() == [
        [r, b, m] for r in ("TID", "QID") for b in BANDS for m in METRICS]
    assert (table["p5"] <= table["median"]).all() and (table["median"] <= table["p95"]).all()
    n = table[table["metric"] == "cavg (ng/mL)"].set_index(["regimen", "age_band"])["n"]
    assert n["TID"].sum() == 200 and n["TID"].tolist() == n["QID"].tolist() and n.min() > 40
    median = table.set_index(["regimen", "age_band", "metric"])["median"]
    weight = [median["TID", b, "weight (kg)"] for b in BANDS]
    assert weight[0] < weight[1] < weight[2]
    # the median child of 2-6 y weighs < 30 kg: no cap reaches it, it gets 2 mg/kg/day exactly
    assert weight[0] < 30
    np.testing.assert_allclose([median[r, "2-6 y", "dose (mg/kg/day)"] for r in ("TID", "QID")], 2.0,
                               rtol=1e-12)
    # 12-17 y: the caps (TID 60 mg/day above 30 kg, QID 80 mg/day above 40 kg) cut the
    # dose per kg, TID more than QID, and Cavg with it
    old_tid, old_qid = (median[r, "12-17 y", "dose (mg/kg/day)"] for r in ("TID", "QID"))
    assert old_tid < old_qid < 2.0
    cavg_young = [median[r, "2-6 y", "cavg (ng/mL)"] for r in ("TID", "QID")]
    # uncapped, Cavg = (2/24 mg/kg/h) / CL/F: 305 ng/mL at the median random effect, whatever
    # the frequency (same children, same random effects); 2 % for the 0.5 h trapezoid, 20 % for
    # the median of e^-eta over ~65 children (omega 0.334, standard error ~5 %)
    np.testing.assert_allclose(cavg_young[0], cavg_young[1], rtol=0.02)
    np.testing.assert_allclose(cavg_young, 305.3, rtol=0.2)
    assert median["TID", "12-17 y", "cavg (ng/mL)"] < median["QID", "12-17 y", "cavg (ng/mL)"]
    assert median["TID", "12-17 y", "cavg (ng/mL)"] < 0.85 * cavg_young[0]
    assert "12-17 y" in capsys.readouterr().out


def test_job_cohort_is_a_cp_mix_from_the_growth_charts():
    # Reid 2011 registry means, normalised: level I 34.2 / 100.6
    assert abs(sum(cli.GMFCS_MIX.values()) - 1) < 1e-12
    np.testing.assert_allclose(cli.GMFCS_MIX[1], 34.2 / 100.6, rtol=1e-12)
