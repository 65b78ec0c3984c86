"""The Dask backend: chunks on a local cluster of worker processes, the same numbers."""

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from test_chunked import TID_14_DAYS, W1_TIMES, w1_cohort

# subprocesses, kernels or a cluster: `make test-fast` skips these, `make test` runs them
pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


def local_cluster(n_workers: int):
    return distributed.LocalCluster(
        n_workers=n_workers, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
    )


@pytest.fixture(scope="module")
def two_workers():
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        yield client


def test_one_and_two_workers_give_identical_exposures(card, two_workers):
    cohort = w1_cohort(30_000)
    with distributed.get_task_stream(two_workers) as stream:
        on_two = pk.simulate(
            card, cohort, TID_14_DAYS, W1_TIMES, seed=7, chunk_size=2500, keep="exposure", client=two_workers
        )
    assert len({task["worker"] for task in stream.data}) == 2  # both workers took chunks
    with local_cluster(1) as cluster, distributed.Client(cluster) as client:
        on_one = pk.simulate(
            card, cohort, TID_14_DAYS, W1_TIMES, seed=7, chunk_size=2500, keep="exposure", client=client
        )
    pd.testing.assert_frame_equal(on_two.exposure, on_one.exposure, check_exact=True)
    pd.testing.assert_frame_equal(on_two.parameters, on_one.parameters, check_exact=True)
    here = pk.simulate(card, cohort, TID_14_DAYS, W1_TIMES, seed=7, keep="exposure")
    pd.testing.assert_frame_equal(on_two.exposure, here.exposure, check_exact=True)


def test_workers_write_the_parquet_dataset(card, two_workers, tmp_path):
    cohort = w1_cohort(3000)
    whole = pk.simulate(card, cohort, TID_14_DAYS, W1_TIMES, seed=8)
    res = pk.simulate(
        card, cohort, TID_14_DAYS, W1_TIMES, seed=8, chunk_size=1000, client=two_workers, out=tmp_path / "run"
    )
    np.testing.assert_array_equal(res.concentrations, whole.concentrations)
    assert len(list((tmp_path / "run").glob("part-*.parquet"))) == 3
    data = pd.read_parquet(tmp_path / "run")
    np.testing.assert_array_equal(data["conc_mg_L"].to_numpy().reshape(3000, -1), whole.concentrations)


def test_backend_dask_runs_on_the_current_client(card, two_workers):
    cohort = w1_cohort(500)
    res = pk.simulate(
        card, cohort, TID_14_DAYS, W1_TIMES, seed=9, chunk_size=200, keep="exposure", backend="dask"
    )
    here = pk.simulate(card, cohort, TID_14_DAYS, W1_TIMES, seed=9, keep="exposure")
    pd.testing.assert_frame_equal(res.exposure, here.exposure, check_exact=True)


def test_an_error_on_a_worker_reaches_the_caller(card, two_workers):
    # a child whose doses do not repeat has no steady-state window: found by its chunk, on a worker
    events = pk.read_events(
        pd.DataFrame(
            {"ID": [1, 1, 1, 2, 2, 2], "TIME": [0.0, 8, 16, 0, 5, 13], "AMT": 10.0, "EVID": 1, "CMT": 1}
        )
    )
    with pytest.raises(
        ValueError,
        match=r"exposure: window 'steady_state': child ID 2 has no full "
        r"dosing interval that repeats",
    ):
        pk.simulate(
            card, w1_cohort(2), events, W1_TIMES, seed=1, chunk_size=1, keep="exposure", client=two_workers
        )
