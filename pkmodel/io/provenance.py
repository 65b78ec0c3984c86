"""Provenance: what a written result was made from, so that it can be made again.

A record is a JSON-ready dict: the pkmodel version, the model (name, file
name and the SHA-256 of the file's bytes), the seed, the exact regimen text
as given, when it was made, and whatever else the writer adds (the cohort,
the command line). Parquet files carry it in their schema metadata under the
key `PARQUET_KEY`; other files get a JSON sidecar.
"""

import hashlib
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

import numpy as np

from .._version import __version__
from ..model.model import Model

PARQUET_KEY = b"pkmodel.provenance"
_CHUNK_BYTES = 1 << 20


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def provenance(model: Model, seed: int | None, regimen_text: str | Mapping[str, str], **extra) -> dict:
    """The provenance record of a result (see module docstring).

    Parameters
    ----------
    model : Model
        Its file is hashed (`model_file`, `model_sha256` are None for a model
        built in memory).
    seed : int or None
        The seed the cohort and the random effects were drawn from.
    regimen_text : str, or {label: text}
        The regimen exactly as the user wrote it (`Regimen.parse` reads it back).
    **extra
        More JSON-ready entries (e.g. cohort=..., command=...).
    """
    path = Path(model.path) if model.path else None
    record = {
        "pkmodel_version": __version__,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model.name,
        "model_file": path.name if path else None,
        "model_sha256": sha256_of(path) if path else None,
        "seed": seed,
        "regimen": regimen_text if isinstance(regimen_text, str) else dict(regimen_text),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    record.update(extra)
    return record


def to_json(record: Mapping) -> str:
    """The record as indented JSON text."""
    return json.dumps(record, indent=2, sort_keys=False, allow_nan=False) + "\n"


def canonical_json(record: Mapping) -> str:
    """The record as one canonical JSON text (sorted keys, no spaces, ASCII): what is hashed.

    Raises ValueError for what JSON cannot hold exactly (NaN, infinity).
    """
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def from_parquet(path: str | Path) -> dict:
    """The provenance record in a Parquet file's schema metadata.

    Raises ValueError naming the file when it is not readable as Parquet or holds no record,
    or a record that is not a JSON object.
    """
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception as err:  # any failure to decode: pyarrow's words chained
        raise ValueError(f"{path}: not readable as Parquet ({type(err).__name__})") from err
    return from_metadata(metadata, str(path))


def from_metadata(metadata: Mapping[bytes, bytes], where: str) -> dict:
    """The provenance record in Parquet schema metadata (`where` names the file in errors).

    Raises ValueError when there is none, or it is not a JSON object.
    """
    if PARQUET_KEY not in metadata:
        raise ValueError(
            f"{where}: no {PARQUET_KEY.decode()!r} in the Parquet schema metadata; "
            "expected a file written by pkmodel"
        )
    try:
        record = json.loads(metadata[PARQUET_KEY].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        record = None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: the provenance record is not a JSON object")
    return record
