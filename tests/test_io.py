"""Files written atomically and never over an existing file unless asked, hashed as written;
folders swapped in whole; temporaries of dead processes removed, those of live ones kept."""

import hashlib
from io import StringIO
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pkmodel as pk
from pkmodel import cli, study
from pkmodel.io import csvfile
from pkmodel.io import files as io
from conftest import typical_cohort


class Interrupted(Exception):
    """Stands for anything that stops a run half-way (a full disk, a crash, Ctrl-C)."""


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_puts_the_whole_file_in_place(tmp_path):
    with io.atomic_write(tmp_path / "a.csv", text=True) as f:
        f.write("x,y\n1,2\n")
    assert (tmp_path / "a.csv").read_text() == "x,y\n1,2\n"
    assert listing(tmp_path) == ["a.csv"]  # no temporary file left behind


@pytest.mark.parametrize("interruption", [Interrupted, KeyboardInterrupt])
def test_an_interrupted_write_leaves_nothing_under_the_final_name(tmp_path, interruption):
    with pytest.raises(interruption):
        with io.atomic_write(tmp_path / "result.parquet") as f:
            f.write(b"PAR1" + b"\0" * 1000)  # half a file ...
            raise interruption()  # ... and the run stops
    assert listing(tmp_path) == []


def test_an_interrupted_overwrite_keeps_the_old_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old, whole\n")
    with pytest.raises(Interrupted):
        with io.atomic_write(path, overwrite=True, text=True) as f:
            f.write("new, half")
            raise Interrupted()
    assert path.read_text() == "old, whole\n" and listing(tmp_path) == ["table.csv"]


def test_an_existing_file_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("mine\n")
    with pytest.raises(FileExistsError, match=r"table\.csv' exists; pass overwrite=True to replace it"):
        with io.atomic_write(path, text=True) as f:
            f.write("theirs\n")
    assert path.read_text() == "mine\n"
    with io.atomic_write(path, overwrite=True, text=True) as f:
        f.write("theirs\n")
    assert path.read_text() == "theirs\n" and listing(tmp_path) == ["table.csv"]


def test_a_file_that_appears_during_the_write_is_not_replaced(tmp_path):
    path = tmp_path / "table.csv"
    with pytest.raises(FileExistsError, match=r"table\.csv' exists"):
        with io.atomic_write(path, text=True) as f:
            path.write_text("written meanwhile by someone else\n")
            f.write("ours\n")
    assert path.read_text() == "written meanwhile by someone else\n"
    assert listing(tmp_path) == ["table.csv"]


@pytest.mark.skipif(os.name != "posix", reason="file modes and umask are POSIX")
def test_written_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with io.atomic_write(tmp_path / "a.csv", text=True) as f:
            f.write("x\n")
    finally:
        os.umask(umask)
    # 0o666 less the umask, as open() gives; not the 0o600 of a temporary file
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644


# --- hashed as written ----------------------------------------------------------------------


def test_the_digest_is_the_sha256_of_the_bytes_that_reached_the_file(tmp_path):
    # the digest comes from what went through the writer; hashlib over the file read back
    # afterwards is the independent check (text with non-ASCII, Parquet, PNG)
    with io.atomic_write(tmp_path / "a.csv", text=True) as text:
        pd.DataFrame({"x": [1 / 3, 2.5e-300], "who": ["Zoë", "Łukasz"]}).to_csv(text, index=False)
    with io.atomic_write(tmp_path / "b.parquet") as binary:
        pq.write_table(pa.table({"a": [0.1, 0.2]}), binary)
    for name, f in (("a.csv", text), ("b.parquet", binary)):
        assert f.sha256 == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()[1:] == [
        "0.3333333333333333,Zoë",
        "2.5e-300,Łukasz",
    ]


def test_an_empty_path_is_refused_not_taken_for_the_working_directory():
    with pytest.raises(
        ValueError,
        match=r"path is ''; expected a path \(an empty path would mean "
        r"the working directory\)",
    ):
        with io.atomic_write("") as f:
            f.write(b"x")


# --- CSV: pandas' text, faster ----------------------------------------------------------------

# the same 200 examples on every run, as test_properties
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\né-')), max_size=6)


@PROPERTY
@given(
    floats=st.lists(
        st.floats(width=64) | st.sampled_from([1e-4, 1e15, 1e16, -0.0, 5e-324, 9.999999999999998e15, 100.0]),
        min_size=1,
        max_size=30,
    ),
    data=st.data(),
)
def test_write_csv_writes_what_pandas_writes(floats, data):
    # pandas' own to_csv is the reference: every character the same, for floats of every
    # magnitude (Python writes 1e-05 and 100.0 where Arrow writes 0.00001 and 100), whole
    # numbers, True/False, text that needs quotes, categories, missing values
    n = len(floats)
    frame = pd.DataFrame(
        {
            "x": np.array(floats),
            "i": data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)),
            "flag": data.draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "s, t": data.draw(st.lists(TEXT | st.none(), min_size=n, max_size=n)),
        }
    )
    frame["band"] = pd.Categorical(
        data.draw(st.lists(st.sampled_from(["2-6 y", ">=50 kg", "a,b"]), min_size=n, max_size=n))
    )
    written = StringIO()
    csvfile.write_csv(frame, written)
    assert written.getvalue() == frame.to_csv(index=False)


def test_write_csv_writes_big_tables_in_slices_with_one_header(monkeypatch):
    monkeypatch.setattr(csvfile, "_CSV_ROWS", 7)
    frame = pd.DataFrame({"a": np.arange(20) / 3, "b": ["x"] * 20})
    written = StringIO()
    csvfile.write_csv(frame, written)
    assert written.getvalue() == frame.to_csv(index=False)


# --- temporaries of dead and live processes -------------------------------------------------


def python(code: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


KILLED_MID_WRITE = """
    import os, signal, sys
    from pkmodel.io import files as io
    with io.atomic_write(sys.argv[1]) as f:
        f.write(b"half a file")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    done = python(KILLED_MID_WRITE, tmp_path / "a.csv")
    assert done.wait() == -signal.SIGKILL
    (left,) = listing(tmp_path)  # the dead process's hidden temporary ...
    assert left.startswith(".a.csv.") and left.endswith(f"-{done.pid}-" + left.split("-")[-1])
    with io.atomic_write(tmp_path / "b.csv", text=True) as f:
        f.write("x\n")
    assert listing(tmp_path) == ["b.csv"]  # ... is gone after the next write into the folder


@pytest.mark.slow  # a subprocess: a fresh interpreter (make test-fast skips it)
def test_a_live_writers_temporary_is_never_removed(tmp_path):
    writer = python(
        """
        import sys
        from pkmodel.io import files as io
        with io.atomic_write(sys.argv[1], text=True) as f:
            f.write("begun\\n")
            print("writing", flush=True)
            sys.stdin.readline()              # until the test says go on
            f.write("finished\\n")
    """,
        tmp_path / "slow.csv",
    )
    assert writer.stdout.readline() == "writing\n"
    (temporary,) = listing(tmp_path)
    with io.atomic_write(tmp_path / "other.csv", text=True) as f:  # cleans the folder ...
        f.write("x\n")
    assert io.remove_stale_temporaries(tmp_path) == []
    assert listing(tmp_path) == sorted([temporary, "other.csv"])  # ... but not a live run's
    writer.communicate("go on\n")
    assert writer.returncode == 0
    assert (tmp_path / "slow.csv").read_text() == "begun\nfinished\n"
    assert listing(tmp_path) == ["other.csv", "slow.csv"]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="start times from Linux /proc")
def test_only_temporaries_of_dead_processes_on_this_host_are_removed(tmp_path):
    live = io.temporary_name("x.csv")  # this process: kept
    host, boot, pid, start = live.split(".")[-2].split("-")
    stem = ".x.csv.0123456789ab"
    reused = f"{stem}.{host}-{boot}-{pid}-{int(start) + 1}.partial"  # our ID, another start
    booted_before = f"{stem}.{host}-{'f' * 8 if boot != 'f' * 8 else 'e' * 8}-{pid}-{start}.partial"
    other_host = f"{stem}.{'f' * 8 if host != 'f' * 8 else 'e' * 8}-{boot}-1-1.partial"
    old_style = f"{stem}.partial"  # earlier pkmodel: no owner, never removed
    for name in (live, reused, booted_before, other_host, old_style):
        (tmp_path / name).write_bytes(b"")
    assert sorted(io.remove_stale_temporaries(tmp_path)) == sorted([reused, booted_before])
    assert listing(tmp_path) == sorted([live, other_host, old_style])


# --- folders swapped in whole ---------------------------------------------------------------


def test_a_folder_is_put_in_place_whole_and_replaces_only_with_overwrite(tmp_path):
    out = tmp_path / "run"
    with io.atomic_folder(out) as aside:
        assert aside.parent == tmp_path and aside.name.startswith(".run.") and not out.exists()
        (aside / "a.csv").write_text("first\n")
    assert listing(out) == ["a.csv"] and listing(tmp_path) == ["run"]
    with pytest.raises(FileExistsError, match=r"run' exists and is not empty; pass overwrite=True"):
        with io.atomic_folder(out):
            pass
    with io.atomic_folder(out, overwrite=True) as aside:
        (aside / "b.csv").write_text("second\n")
    assert listing(out) == ["b.csv"] and listing(tmp_path) == ["run"]  # the old one removed


def test_a_failure_while_building_leaves_the_old_folder_as_it_was(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "a.csv").write_text("old\n")
    with pytest.raises(Interrupted):
        with io.atomic_folder(out, overwrite=True) as aside:
            (aside / "a.csv").write_text("new, half")
            raise Interrupted()
    assert listing(tmp_path) == ["run"] and (out / "a.csv").read_text() == "old\n"


def test_a_folder_that_must_not_be_replaced_is_kept_even_if_it_changed_meanwhile(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "a.csv").write_text("old\n")

    def replaceable(folder):
        return None if listing(folder) == ["a.csv"] else f"holds {listing(folder)}"

    with pytest.raises(FileExistsError, match=r"holds \['a\.csv', 'notes\.txt'\]"):
        with io.atomic_folder(out, overwrite=True, replaceable=replaceable) as aside:
            (out / "notes.txt").write_text("someone's notes, written during the run\n")
            (aside / "a.csv").write_text("new\n")
    # swapped out, found to hold a file not ours, swapped back: nothing lost
    assert listing(out) == ["a.csv", "notes.txt"] and (out / "a.csv").read_text() == "old\n"
    assert listing(tmp_path) == ["run"]


def test_a_link_to_a_folder_stays_a_link_to_the_new_folder(tmp_path):
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "a.csv").write_text("old\n")
    (tmp_path / "run").symlink_to(tmp_path / "scratch")
    with io.atomic_folder(tmp_path / "run", overwrite=True) as aside:
        (aside / "a.csv").write_text("new\n")
    assert (tmp_path / "run").is_symlink() and (tmp_path / "run" / "a.csv").read_text() == "new\n"
    assert listing(tmp_path) == ["run", "scratch"]


def test_without_renameat2_the_folder_is_still_swapped(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "_libc", lambda: None)  # as on macOS or Windows
    out = tmp_path / "run"
    for text in ("first\n", "second\n"):
        with io.atomic_folder(out, overwrite=True) as aside:
            (aside / "a.csv").write_text(text)
    assert (out / "a.csv").read_text() == "second\n" and listing(tmp_path) == ["run"]


# --- what pkmodel writes ------------------------------------------------------------------

STUDY = ["simulate", "--regimen", "2 mg/kg/day TID for 2 days", "--n", "20", "--quiet"]


def test_cli_refuses_files_of_an_earlier_run_before_running(tmp_path, capsys):
    (tmp_path / "report.md").write_text("an earlier run's report\n")
    assert cli.main([*STUDY, "--out", str(tmp_path)]) == 1
    assert (
        "report.md' exists (1 of this study's files are there from an earlier run); pass "
        "--overwrite to replace them"
    ) in capsys.readouterr().err
    assert (tmp_path / "report.md").read_text() == "an earlier run's report\n"
    assert listing(tmp_path) == ["report.md"]  # refused before anything was written


def test_cli_overwrite_replaces_the_files_whole(tmp_path):
    (tmp_path / "report.md").write_text("an earlier run's report\n")
    assert cli.main([*STUDY, "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "report.md").read_text().startswith("# pkmodel")
    assert listing(tmp_path) == sorted(study.study_files("parquet"))  # no temporary file left


def test_write_events_keeps_an_existing_file_unless_overwrite(tmp_path):
    events = pk.Regimen.fixed(mg=5, every_h=12, n_doses=2).events(typical_cohort(20))
    path = tmp_path / "events.csv"
    pk.write_events(events, path)
    with pytest.raises(FileExistsError, match=r"events\.csv' exists; pass overwrite=True"):
        pk.write_events(events, path)
    pk.write_events(events, path, overwrite=True)
    assert pk.read_events(path).table["AMT"].tolist() == [5.0, 5.0]
