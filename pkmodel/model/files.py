"""Model files: TOML read into a Model, every malformed field refused naming file and field.

A file names a structure (the short form: `[model] structure = ...`) or writes its
equations in the model language (`[model] compartments`, `[odes]`, `[derived]`,
`[outputs]`, `[dosing.<compartment>]`, `pkmodel.model.expressions`); either way with
`[parameters.NAME]`, `[covariates.NAME]` (covariates beyond the cohort's own, with their
units), random effects, correlations, residual error and validity ranges.
"""

import os
import tomllib
from importlib import resources
from pathlib import Path

from .expressions import System
from .model import Model
from .parameters import (
    COHORT_COVARIATES,
    Covariate,
    ModelFileError,
    RandomEffect,
    ResidualError,
    check_unit,
)
from ._tables import _choice, _names, _only_keys, _parameter, _table, _tables
from .structures import ABSORPTIONS, STRUCTURE_NAMES, Structure
from .validity import ValidRange

_SECTIONS = {
    "model",
    "parameters",
    "covariates",
    "random_effects",
    "correlations",
    "residual_error",
    "validity",
    "odes",
    "derived",
    "outputs",
    "dosing",
}
_LANGUAGE = ("odes", "derived", "outputs", "dosing")
_MODEL_KEYS = {
    "name",
    "structure",
    "absorption",
    "n_transit",
    "description",
    "concentration",
    "source",
    "compartments",
    "dose_compartment",
    "note",
    "assumed",
}
_DECLARED_KEYS = {"unit", "type", "source", "note"}
_EFFECT_KEYS = {"sd", "parameters", "source", "note"}
_CORRELATION_KEYS = {"between", "value", "source", "note"}
_RESIDUAL_KEYS = {"type", "proportional_sd", "additive_sd", "source", "note", "assumed"}
_RANGE_KEYS = {"range", "source", "note", "assumed"}
# A model file is a page of TOML (the bundled ones are ~3 kB); a larger file is refused
# unread.
MAX_MODEL_FILE_BYTES = 1_000_000


def load_model(name_or_path: str | Path) -> Model:
    """Load a bundled model by name (e.g. "baclofen_cp_card") or a .toml file by path.

    The file is UTF-8 TOML (a leading byte-order mark is accepted) of at most
    MAX_MODEL_FILE_BYTES.

    Examples
    --------
    >>> import pkmodel as pk
    >>> model = pk.load_model("baclofen_cp_card")
    >>> model.structure.name, model.parameters["CL"].value, model.parameters["CL"].unit
    ('one_compartment_oral', 0.273, 'L/h/kg')
    """
    path = _resolve(name_or_path)
    size = path.stat().st_size
    if size > MAX_MODEL_FILE_BYTES:
        raise ModelFileError(
            f"{path}: is {size:,} bytes; expected a model file of at most {MAX_MODEL_FILE_BYTES:,} bytes"
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelFileError(
            f"{path}: not UTF-8 text (byte {err.start}); expected a TOML file in UTF-8"
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ModelFileError(f"{path}: not valid TOML: {err}") from None
    except (RecursionError, MemoryError):
        raise ModelFileError(
            f"{path}: not readable as TOML: its arrays or tables are nested too "
            "deeply; expected a model file's few levels"
        ) from None
    return _model_from_dict(doc, str(path))


def bundled_models() -> dict[str, Path]:
    """Names of the bundled model files, with their paths."""
    folder = resources.files("pkmodel.params")
    return {
        Path(e.name).stem: Path(str(e))
        for e in sorted(folder.iterdir(), key=lambda e: e.name)
        if e.name.endswith(".toml")
    }


def _resolve(name_or_path: str | Path) -> Path:
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            f"load_model: name_or_path is {name_or_path!r} "
            f"({type(name_or_path).__name__}); expected a bundled model's name or a "
            "path to a .toml file"
        )
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"model file {text!r} does not exist")
        return path
    bundled = bundled_models()
    if text not in bundled:
        raise ValueError(
            f"model {text!r} is not a bundled model; expected one of "
            f"{sorted(bundled)} or a path to a .toml file"
        )
    return bundled[text]


def _model_from_dict(doc: dict, where: str) -> Model:
    _only_keys(doc, _SECTIONS, "", where)
    meta = _table(doc, "model", where)
    _only_keys(meta, _MODEL_KEYS, "model.", where)
    if "name" not in meta:
        raise ModelFileError(f"{where}: model.name is missing")
    if not (isinstance(meta["name"], str) and meta["name"].strip()):
        raise ModelFileError(f"{where}: model.name is {meta['name']!r}; expected the model's name as text")
    language = "compartments" in meta
    structure = None
    if language:
        for key in ("structure", "absorption", "n_transit"):
            if key in meta:
                raise ModelFileError(
                    f"{where}: model.{key} given with model.compartments; "
                    "expected one form: a named structure, or compartments with "
                    "[odes] (the model language)"
                )
    else:
        if "structure" not in meta:
            raise ModelFileError(
                f"{where}: model.structure is missing; expected a named "
                f"structure ({sorted(STRUCTURE_NAMES)}) or model.compartments "
                "with [odes] (the model language)"
            )
        for key in (*_LANGUAGE, "dose_compartment"):
            if key in doc or key in meta:
                section = f"model.{key}" if key in meta else f"[{key}]"
                raise ModelFileError(
                    f"{where}: {section} given with model.structure; the "
                    "language's sections need model.compartments instead"
                )
        structure = _structure(meta, where)
    covariates = _covariates(doc, where)
    params = {
        name: _parameter(name, table, where)
        for name, table in _tables(doc, "parameters", where, "with value and unit").items()
    }
    effects = []
    for name, table in _tables(doc, "random_effects", where, "with sd and parameters").items():
        _only_keys(table, _EFFECT_KEYS, f"random_effects.{name}.", where)
        members = table.get("parameters", [])
        members = [members] if isinstance(members, str) else members
        _names(members, f"random_effects.{name}.parameters", "parameter names", where)
        effects.append(RandomEffect(name=name, sd=table.get("sd"), parameters=tuple(members)))
    correlations = []
    listed = doc.get("correlations", [])
    if not (isinstance(listed, list) and all(isinstance(t, dict) for t in listed)):
        raise ModelFileError(
            f"{where}: correlations is {listed!r}; expected an array of tables "
            "([[correlations]] with between and value)"
        )
    for i, table in enumerate(listed):
        _only_keys(table, _CORRELATION_KEYS, f"correlations[{i}].", where)
        between = table.get("between")
        if not (isinstance(between, list) and len(between) == 2 and all(isinstance(n, str) for n in between)):
            raise ModelFileError(
                f"{where}: correlations[{i}].between is {between!r}; expected two random-effect names"
            )
        correlations.append((between[0], between[1], table.get("value")))
    residual = None
    if "residual_error" in doc:
        table = _table(doc, "residual_error", where)
        _only_keys(table, _RESIDUAL_KEYS, "residual_error.", where)
        residual = ResidualError(
            kind=table.get("type"),  # type: ignore[arg-type]  # None is refused by the Model, naming the field
            proportional_sd=table.get("proportional_sd", 0.0),
            additive_sd=table.get("additive_sd", 0.0),
            source=table.get("source", ""),
        )
    validity = []
    for quantity, table in _tables(doc, "validity", where, "with range = [low, high]").items():
        field_ = f"validity.{quantity}"
        _only_keys(table, _RANGE_KEYS, field_ + ".", where)
        bounds = table.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise ModelFileError(f"{where}: {field_}.range is {bounds!r}; expected [low, high]")
        validity.append(ValidRange(quantity, bounds[0], bounds[1], table.get("source", "")))
    equations = _equations(doc, meta, params, covariates, where) if language else None
    try:
        return Model(
            name=meta["name"],
            structure=structure,
            parameters=params,
            random_effects=tuple(effects),
            correlations=tuple(correlations),
            residual_error=residual,
            validity=tuple(validity),
            description=meta.get("description", ""),
            concentration=meta.get("concentration", ""),
            source=meta.get("source", ""),
            path=where,
            equations=equations,
            covariates=covariates,
        )
    except ModelFileError:
        raise
    except ValueError as err:  # the compiler's (a division by zero in a constant part)
        raise ModelFileError(str(err)) from None


def _structure(meta: dict, where: str) -> Structure:
    _choice(meta["structure"], sorted(STRUCTURE_NAMES), "model.structure", where)
    absorption = _choice(meta.get("absorption", "first_order"), list(ABSORPTIONS), "model.absorption", where)
    n_transit = meta.get("n_transit", 0)
    if absorption != "first_order" and "n_transit" not in meta:
        raise ModelFileError(
            f"{where}: model.n_transit is missing; transit absorption needs the "
            "number of transit compartments"
        )
    try:
        return Structure(meta["structure"], absorption, n_transit)
    except ValueError as err:
        raise ModelFileError(f"{where}: model.{err}") from None


def _covariates(doc: dict, where: str) -> dict[str, Covariate]:
    """[covariates.NAME]: unit = "..." (or type = "categorical"), for covariates beyond the
    cohort's own; a cohort covariate may be declared too, with the unit the cohort gives."""
    out = {}
    for name, table in _tables(doc, "covariates", where, "with unit").items():
        field_ = f"covariates.{name}"
        _only_keys(table, _DECLARED_KEYS, field_ + ".", where)
        kind = _choice(
            table.get("type", "continuous"), ["continuous", "categorical"], f"{field_}.type", where
        )
        if kind == "categorical":
            if "unit" in table:
                raise ModelFileError(
                    f"{where}: {field_}.unit given for a categorical covariate; "
                    "expected levels without a unit"
                )
            unit = "categorical"
        elif "unit" not in table:
            raise ModelFileError(
                f"{where}: {field_}.unit is missing; every covariate names its "
                "unit (e.g. 'kg', 'years', '1'), or type = 'categorical'"
            )
        else:
            unit = check_unit(table["unit"], f"{field_}.unit", where)
        if name in COHORT_COVARIATES and COHORT_COVARIATES[name] != unit:
            raise ModelFileError(
                f"{where}: {field_} is declared as {unit!r}; the cohort gives "
                f"{name} as {COHORT_COVARIATES[name]!r}"
            )
        out[name] = Covariate(name, unit, table.get("source", ""))
    return out


def _equations(doc: dict, meta: dict, params: dict, covariates: dict, where: str) -> System:
    """The model language's sections as a checked System (every name resolved)."""
    compartments = meta["compartments"]
    if not (isinstance(compartments, list) and compartments):
        raise ModelFileError(
            f"{where}: model.compartments is {compartments!r}; expected a list "
            "of compartment names in order (NONMEM's CMT 1, 2, ...)"
        )
    if "odes" not in doc:
        raise ModelFileError(
            f"{where}: table [odes] is missing; expected d(amount)/dt (mg/h) of every compartment"
        )
    if "outputs" not in doc:
        raise ModelFileError(
            f"{where}: table [outputs] is missing; expected conc = the "
            'concentration (mg/L), e.g. conc = "central / V"'
        )
    sections = {key: _table(doc, key, where, required=False) for key in _LANGUAGE}
    numeric = [
        n
        for n, u in {**COHORT_COVARIATES, **{c.name: c.unit for c in covariates.values()}}.items()
        if u != "categorical"
    ]
    try:
        return System(
            compartments=tuple(compartments),
            odes=sections["odes"],
            outputs=sections["outputs"],
            derived=sections["derived"],
            dosing=sections["dosing"],
            parameters=tuple(params),
            covariates=tuple(numeric),
            dose_compartment=meta.get("dose_compartment"),
            where=where,
        )
    except ValueError as err:
        raise ModelFileError(str(err)) from None
