"""The exceptions rmds raises.

Every error raised on purpose by rmds derives from :class:`RmdsError`, and also from the
builtin exception it resembles, so callers may catch either::

    RmdsError
    ├── ConfigurationError (ValueError)            a setting or an environment problem
    │   ├── ReferencePackMissing (FileNotFoundError)   the reference pack directory is absent
    │   └── MissingExtraError (ImportError)        an optional dependency is not installed
    ├── ReferencePackError (ValueError)            a reference pack failed its checks
    ├── CatalogError (ValueError)                  an indicator or quality-rule declaration
    │                                              is invalid (every problem listed)
    ├── TerritoryNotFound (LookupError)            no municipality/region/macro/URS matches
    ├── AmbiguousTerritory (LookupError)           a name matches several territories
    ├── PopulationUnavailable (LookupError)        no population for that year/source
    ├── InvalidCodeError (ValueError)              a malformed code (CID-10, SIGTAP, CNS, ...)
    ├── WorkerError (RuntimeError)                 a worker process stopped or failed
    └── InputError (ValueError)                    a bad input file: names file, row and field
        ├── FileFormatError                        the file's structure cannot be read
        │   └── UnknownSourceError                 not a source rmds knows (name, header)
        └── SchemaError                            columns missing or of the wrong type

Errors carry :class:`Problem` records (file, row, field, message) so that a command can
report every problem at once instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AmbiguousTerritory",
    "CatalogError",
    "ConfigurationError",
    "FileFormatError",
    "InputError",
    "InvalidCodeError",
    "MissingExtraError",
    "PopulationUnavailable",
    "Problem",
    "ReferencePackError",
    "ReferencePackMissing",
    "RmdsError",
    "SchemaError",
    "TerritoryNotFound",
    "UnknownSourceError",
    "WorkerError",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem found in an input: where it is and what is wrong (pt-BR message)."""

    file: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", linha {self.row}"
        if self.field:
            where += f", campo {self.field}"
        return f"{where}: {self.message}"


class RmdsError(Exception):
    """Base of every error rmds raises on purpose."""


class ConfigurationError(RmdsError, ValueError):
    """A setting or the environment is not usable."""


class ReferencePackMissing(ConfigurationError, FileNotFoundError):
    """The reference pack directory (or one of its files) does not exist."""


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is needed; the message says which extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"esta função precisa do pacote '{package}': instale com "
            f"pip install 'rmds[{extra}]'"
        )
        self.package = package
        self.extra = extra


class _ProblemsError(RmdsError):
    def __init__(self, summary: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: Sequence[Problem] = tuple(problems)
        lines = [summary, *(f"  - {p}" for p in self.problems[:50])]
        if len(self.problems) > 50:
            lines.append(f"  ... e mais {len(self.problems) - 50} problemas")
        super().__init__("\n".join(lines))


class ReferencePackError(_ProblemsError, ValueError):
    """The reference pack failed one or more checks; ``problems`` lists them all."""


class CatalogError(_ProblemsError, ValueError):
    """An indicator or quality-rule declaration is invalid; ``problems`` lists them all."""


class TerritoryNotFound(RmdsError, LookupError):
    """No territorial unit matches the code or name given."""


class AmbiguousTerritory(RmdsError, LookupError):
    """A name matches several territorial units; ``candidates`` lists them."""

    def __init__(self, query: str, candidates: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        super().__init__(
            f"'{query}' corresponde a mais de um território: "
            + "; ".join(self.candidates)
            + ". Use --level para escolher."
        )


class PopulationUnavailable(RmdsError, LookupError):
    """No population exists for the requested unit, year, source or breakdown."""


class InvalidCodeError(RmdsError, ValueError):
    """A code (CID-10, SIGTAP, IBGE, CNS, CPF ...) is malformed or unknown."""


class WorkerError(RmdsError, RuntimeError):
    """A worker process (e.g. converting FHIR NDJSON) stopped or failed; the file it was
    working on is not loaded."""


class InputError(_ProblemsError, ValueError):
    """A bad input file; ``problems`` names the file, row and field of each problem."""


class FileFormatError(InputError):
    """The structure of a file cannot be read (bad header, truncated data, ...)."""


class UnknownSourceError(FileFormatError):
    """The file is not a source rmds recognises, by its name, header or content."""


class SchemaError(InputError):
    """Columns are missing or carry values of the wrong type."""
