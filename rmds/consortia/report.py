"""One consortium at a glance: members, population covered, production, waits and queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from rmds.consortia.queues import data_date, queue, waits
from rmds.consortia.roster import consortium_names, memberships, roster_status
from rmds.exceptions import TerritoryNotFound
from rmds.lake.store import table_exists
from rmds.territory import ReferencePack

__all__ = ["consortia_list", "consortium_overview"]


def _mart_cell(con: duckdb.DuckDBPyConnection, indicator: str, sigla: str, period: str
               ) -> tuple[float | None, float | None, float | None]:
    if not table_exists(con, "indicator_values"):      # indicators not computed yet
        return None, None, None
    rows = con.execute("SELECT numerator, denominator, value FROM indicator_values WHERE "
                       "indicator_id = ? AND level = 'consorcio' AND unit_code = ? AND "
                       "period = ?", [indicator, sigla, period]).fetchall()
    return rows[0] if rows else (None, None, None)


def consortia_list(con: duckdb.DuckDBPyConnection, pack: ReferencePack) -> dict[str, Any]:
    names = consortium_names(con, pack)
    counts: dict[str, set[str]] = {}
    for m in memberships(con, pack):
        counts.setdefault(m.consortium, set()).add(m.municipality)
    items = [{"sigla": code, "nome": names.get(code, code),
              "municipios_conhecidos": len(counts.get(code, ()))}
             for code in sorted(set(names) | set(counts))]
    return {"rol": roster_status(con, pack), "consorcios": items}


def consortium_overview(con: duckdb.DuckDBPyConnection, pack: ReferencePack, sigla: str,
                        year: int | None = None, at: dt.date | None = None
                        ) -> dict[str, Any]:
    names = consortium_names(con, pack)
    everyone = [m for m in memberships(con, pack) if m.consortium == sigla]
    if sigla not in names and not everyone:
        raise TerritoryNotFound(f"consórcio desconhecido: {sigla}")
    at = at or data_date(con) or dt.date.today()
    year = year or at.year
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    members = sorted({m.municipality for m in everyone if m.valid_in(start, end)})
    done, population, production = _mart_cell(con, "consorcio_producao", sigla, str(year))
    trips = _mart_cell(con, "transporte_viagens", sigla, str(year))[0]
    carried = _mart_cell(con, "transporte_pessoas", sigla, str(year))[0]
    started, diagnosed, oncology = _mart_cell(con, "oncologia_tratamento_60_dias", sigla,
                                              str(year))
    return {
        "sigla": sigla, "nome": names.get(sigla, sigla), "ano": year,
        "data_de_referencia": at.isoformat(),
        "membros": [{"municipio": code, "nome": pack.municipalities[code].name}
                    for code in members],
        "populacao_coberta": population,
        "producao": {"realizados": done, "por_mil_habitantes": production,
                     "viagens_transporte": trips, "pessoas_transportadas": carried,
                     "oncologia_60_dias_pct": oncology},
        # what the percentage is made of: the access policy suppresses it when small
        "oncologia_contagens": {"numerador": started, "denominador": diagnosed},
        "esperas": waits(con, start, end, members),
        "fila": queue(con, at, members),
        "rol": roster_status(con, pack),
        "fonte_dos_membros": sorted({m.source for m in everyone}),
    }
