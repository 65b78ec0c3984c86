"""Docstring examples: the public functions show how they are called, and every example in the
package runs and prints what its docstring says (doctest, run by the suite)."""

import doctest
import importlib
import pkgutil

import pytest

import pkmodel as pk
from pkmodel.engines import base

# __main__ runs the command line on import
MODULES = sorted(
    m.name for m in pkgutil.walk_packages(pk.__path__, "pkmodel.") if m.name != "pkmodel.__main__"
)

# the calls a first user makes: each shows itself with an example that runs
EXAMPLED = {
    "load_model": pk.load_model,
    "Cohort.from_growth_charts": pk.Cohort.from_growth_charts,
    "Regimen.parse": pk.Regimen.parse,
    "simulate": pk.simulate,
    "exposure": pk.exposure,
    "read_events": pk.read_events,
    "compare": pk.compare,
    "find_dose": pk.find_dose,
    "estimate_individual": pk.estimate_individual,
    "register_engine": pk.register_engine,
}


@pytest.mark.parametrize("name", sorted(EXAMPLED))
def test_public_function_has_an_example(name):
    doc = EXAMPLED[name].__doc__ or ""
    assert "Examples\n" in doc and ">>> " in doc, f"{name} has no Examples section with a call"


@pytest.fixture
def registry():
    """The engine registry as it was: an example that registers an engine leaves no trace."""
    saved = dict(base._REGISTRY)
    yield
    base._REGISTRY.clear()
    base._REGISTRY.update(saved)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, registry):
    module = importlib.import_module(name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failed == 0, f"{failed} of {attempted} docstring examples of {name} failed (printed above)"


def test_doctest_sees_a_wrong_example():
    # the test above would pass vacuously if doctest ran nothing
    def wrong():
        """
        >>> 1 + 1
        3
        """

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(wrong, "wrong"):
        runner.run(test, out=lambda text: None)
    assert runner.failures == 1
