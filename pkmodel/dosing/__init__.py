"""What is prescribed and what is given: Regimen, its schedule, labels and their grammar (text),
formulations, NONMEM event tables, and Doses (the engines' input)."""

from .schedule import MAX_DOSES

__all__ = ["MAX_DOSES"]
