"""Reads well in Jupyter (issue 19 part 3): every public object built on 10,000 children has a
__repr__ under 1,000 characters and a _repr_html_ that is valid HTML; no array is dumped in a
repr or an error message."""

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import pkmodel as pk
from pkmodel import _display

N = 10_000
TIMES = np.arange(0, 72.5, 0.5)
VOID = {"br", "hr", "img", "meta", "col", "wbr"}


class Balanced(HTMLParser):
    """Parses a fragment, recording tags that do not close in order."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.tags, self.text = [], [], [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def objects(card):
    cohort = pk.Cohort.from_growth_charts(N, age_years=(2, 17), seed=3)
    tid = pk.Regimen.parse("2 mg/kg/day TID for 3 days, max 20 mg/dose")
    qid = pk.Regimen.parse("2 mg/kg/day QID for 3 days, max 20 mg/dose")
    res = pk.simulate(card, cohort, tid, TIMES, seed=1)
    kept = pk.simulate(card, cohort, tid, TIMES, seed=1, keep="exposure", chunk_size=4_000)
    both = pk.compare(card, cohort, {"TID": tid, "QID": qid}, TIMES, seed=1, keep="both")
    ids = cohort.ids

    def frame(t, evid, amt, dv):
        return pd.DataFrame(
            {
                "ID": ids,
                "TIME": t,
                "AMT": amt,
                "EVID": evid,
                "CMT": 1 if evid else 2,
                "DV": dv,
                "WT": cohort.weight_kg,
                "AGE": cohort.age_years,
            }
        )

    data = pd.concat(
        [frame(0.0, 1, 10.0, np.nan), frame(2.0, 0, 0.0, 0.25), frame(6.0, 0, 0.0, 0.15)]
    ).sort_values(["ID", "TIME"], kind="stable")
    fit = pk.estimate_individual(card, data)
    return {
        "Model": card,
        "Cohort": cohort,
        "Regimen": tid,
        "Doses": res.doses,
        "SubjectDoses": res.doses.per_subject(),
        "Result": res,
        "ExposureResult": kept,
        "IndividualFit": fit,
        "Comparison": both,
    }


NAMES = [
    "Model",
    "Cohort",
    "Regimen",
    "Doses",
    "SubjectDoses",
    "Result",
    "ExposureResult",
    "IndividualFit",
    "Comparison",
]


@pytest.mark.parametrize("name", NAMES)
def test_repr_is_short_and_says_what_and_how_big(objects, name):
    x = objects[name]
    text = repr(x)
    assert len(text) < 1000, text
    assert text.startswith(f"<{name}") and str(x) == text  # print() shows the same
    size = {"Model": "3 parameters", "Regimen": "9 doses"}.get(name, "10,000")
    assert size in text.splitlines()[0]
    # no array dump: no numpy bracket runs, no "array(" and no ellipsis of numpy's printer
    assert "array(" not in text and "[[" not in text and ", ...," not in text


@pytest.mark.parametrize("name", NAMES)
def test_repr_html_is_valid_html_with_a_title_and_a_table(objects, name):
    page = Balanced(objects[name]._repr_html_())
    assert page.problems == [] and page.stack == []
    assert page.tags[0] == "div" and "strong" in page.tags and "table" in page.tags
    assert name in "".join(page.text)
    assert len(objects[name]._repr_html_()) < 5000


def test_key_numbers_are_the_objects_own(objects):
    cohort = objects["Cohort"]
    median = np.median(cohort.weight_kg)
    assert f"median {median:.3g} " in repr(cohort)
    both = objects["Comparison"]
    qid = both.exposure.loc[both.exposure["regimen"] == "QID", "cavg"].median()
    assert f"{round(qid, 4)}" in repr(both)
    fit = objects["IndividualFit"]
    assert f"converged: {int(np.sum(fit.converged)):,} of 10,000" in repr(fit)


def test_compare_keep_both_gives_the_table_and_the_curves_of_one_simulation(card, objects):
    both = objects["Comparison"]
    cohort, tid = objects["Cohort"], objects["Regimen"]
    assert list(both.results) == ["TID", "QID"]
    table = pk.compare(card, cohort, {"TID": tid}, TIMES, seed=1)
    # the same children and random effects: exposure equal to compare's default table
    pd.testing.assert_frame_equal(
        both.exposure[both.exposure["regimen"] == "TID"].reset_index(drop=True).drop(columns="regimen"),
        table.drop(columns="regimen"),
    )
    np.testing.assert_array_equal(both.results["TID"].concentrations, objects["Result"].concentrations)
    # the exposure is that of the curves kept
    again = pk.exposure(both.results["QID"], window="steady_state")
    np.testing.assert_allclose(
        again["cavg"], both.exposure.loc[both.exposure["regimen"] == "QID", "cavg"], rtol=1e-12
    )


def test_compare_keep_refuses_an_unknown_value_and_chunks(card):
    cohort = pk.Cohort(weight_kg=[20.0], age_years=[6.0])
    reg = {"TID": pk.Regimen.weight_based(2.0, 3, 2)}
    with pytest.raises(
        ValueError,
        match=r"compare: keep is 'curves'; expected one of "
        r"\['exposure', 'both'\]",
    ):
        pk.compare(card, cohort, reg, TIMES, keep="curves")
    with pytest.raises(
        ValueError,
        match=r"compare: keep is 'both' with chunk_size 10; expected "
        r"chunk_size=None",
    ):
        pk.compare(card, cohort, reg, TIMES, keep="both", chunk_size=10)


def test_short_quotes_a_truncated_form():
    big = np.arange(1e6)
    text = _display.short(big)
    assert len(text) < 120 and text.startswith("array of shape (1000000,), float64: [0., 1.")
    assert _display.short(list(range(1000))) == "[0, 1, 2, 3, ...]"
    assert len(_display.short("x" * 500)) <= 80


def test_errors_quote_no_whole_array_or_regimen(card):
    with pytest.raises(ValueError) as err:
        pk.Cohort(weight_kg=[[1.0, 2.0], [3.0]] * 500, age_years=[5.0] * 1000)
    assert len(str(err.value)) < 300
    regimens = [pk.Regimen.weight_based(2.0, 3, 14)] * 3  # a list, not {label: Regimen}
    with pytest.raises(ValueError, match=r"regimens is \[<Regimen: 42 doses>") as err:
        pk.compare(card, pk.Cohort(weight_kg=[20.0], age_years=[6.0]), regimens, TIMES)
    assert len(str(err.value)) < 300
