"""How long people wait, and who is still waiting: referrals of the consortia.

* Waiting time: days from request to service, for referrals done in the period, by service
  type — median and 90th percentile (linear interpolation between order statistics, as
  ``numpy.percentile`` and DuckDB's ``quantile_cont``).
* Queue at a date: referrals requested up to that date and neither done nor cancelled by it;
  its size and age (days since request: median, 90th percentile, oldest).

The reference date defaults to the data's own date (the latest date in the referral table),
not the calendar: a queue is measured as of what has been reported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import duckdb

from rmds.engine.sql import col, ident

__all__ = ["REFERRALS_SQL", "data_date", "queue", "queue_items", "waits"]

SERVICE_TYPES = ("consulta", "exame", "cirurgia", "oncologia", "transporte")


#: how a referral's columns are merged, where it is not ``max`` (SQL written here)
_MERGED_SQL = {
    "referral_id": "coalesce(r.referral_id, r.source_file || ':' || "
                   "CAST(r.source_row AS VARCHAR))",
    "requesting_municipality": "coalesce(max(r.requesting_municipality), "
                               "max(p.residence_municipality))",
    "requested_date": "min(r.requested_date)",
    "status": "CASE WHEN bool_or(r.status = 'realizado') THEN 'realizado' "
              "WHEN bool_or(r.status = 'cancelado') THEN 'cancelado' "
              "WHEN bool_or(r.status = 'agendado') THEN 'agendado' ELSE max(r.status) END",
    "source_file": "min(r.source_file)", "source_row": "min(r.source_row)",
    "batch_id": "min(r.batch_id)",
}


def _merged_sql(name: str) -> str:
    """How column ``name`` of ``referrals`` is merged across a referral's rows."""
    merged_sql = _MERGED_SQL.get(name)
    return merged_sql if merged_sql is not None else f"max({col('r', name)})"


def _consolidated_sql() -> str:
    """One row per referral: the rows of a consortium report, a FHIR ServiceRequest and the
    Appointments based on it are merged (earliest request, latest schedule, service and
    cancellation; done beats cancelled beats scheduled beats requested); the requesting
    municipality falls back on the FHIR Patient's residence (joined on an equality alone,
    so that the engine hashes it: a system test in the ON clause made DuckDB loop over
    referrals × patients)."""
    from rmds.schema import table

    columns_sql = ", ".join(f"{_merged_sql(c.name)} AS {ident(c.name)}"
                            for c in table("referrals").columns)
    return (f"(SELECT {columns_sql} FROM referrals r LEFT JOIN (SELECT record_key, "
            "any_value(residence_municipality) AS residence_municipality FROM "
            "identity_records WHERE source_system = 'FHIR' AND role = 'paciente' "
            "GROUP BY 1) p ON p.record_key = CASE WHEN r.source_system = 'FHIR' "
            "THEN r.patient_key END "
            "GROUP BY 1)")


#: the consolidated referrals as a parenthesised subquery
REFERRALS_SQL = _consolidated_sql()


def _where_sql(municipalities: Collection[str] | None) -> tuple[str, list[Any]]:
    """A condition on the requesting municipality, with its bind parameters."""
    if municipalities is None:
        return "TRUE", []
    codes = sorted(municipalities)
    if not codes:
        return "FALSE", []
    placeholders_sql = ", ".join("?" * len(codes))
    return f"requesting_municipality IN ({placeholders_sql})", list(codes)


def data_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    row = con.execute("SELECT greatest(max(requested_date), max(scheduled_date), "
                      f"max(performed_date), max(cancelled_date)) FROM {REFERRALS_SQL}").fetchall()
    value = row[0][0] if row else None
    return value if isinstance(value, dt.date) else None


def waits(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date,
          municipalities: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Median and 90th percentile of days waited, by service type, for services done in
    ``[start, end]``."""
    where_sql, params = _where_sql(municipalities)
    rows = con.execute(
        "SELECT service_type, count(*) AS done, "
        "quantile_cont(performed_date - requested_date, 0.5) AS median_days, "
        "quantile_cont(performed_date - requested_date, 0.9) AS p90_days "
        f"FROM {REFERRALS_SQL} WHERE status = 'realizado' AND performed_date IS NOT NULL "
        "AND requested_date IS NOT NULL AND performed_date BETWEEN ? AND ? "
        f"AND {where_sql} GROUP BY 1 ORDER BY 1", [start, end, *params]).fetchall()
    return [{"tipo": r[0], "realizados": int(r[1]), "espera_mediana_dias": float(r[2]),
             "espera_p90_dias": float(r[3])} for r in rows]


def _waiting_sql(at: dt.date) -> tuple[str, list[Any]]:
    """Requested by ``at``, not done and not cancelled by then (a cancellation without a
    date counts as before)."""
    return ("requested_date <= ? AND (performed_date IS NULL OR performed_date > ?) "
            "AND (cancelled_date IS NULL OR cancelled_date > ?) "
            "AND NOT (coalesce(status, '') = 'cancelado' AND cancelled_date IS NULL)",
            [at, at, at])


def queue(con: duckdb.DuckDBPyConnection, at: dt.date,
          municipalities: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Size and age of the queue on ``at``, by service type."""
    where_sql, params = _where_sql(municipalities)
    waiting_sql, wparams = _waiting_sql(at)
    rows = con.execute(
        "SELECT service_type, count(*), quantile_cont(? - requested_date, 0.5), "
        f"quantile_cont(? - requested_date, 0.9), max(? - requested_date) FROM {REFERRALS_SQL} "
        f"WHERE ({waiting_sql}) AND {where_sql} GROUP BY 1 ORDER BY 1",
        [at, at, at, *wparams, *params]).fetchall()
    return [{"tipo": r[0], "na_fila": int(r[1]), "idade_mediana_dias": float(r[2]),
             "idade_p90_dias": float(r[3]), "mais_antigo_dias": int(r[4])} for r in rows]


def queue_items(con: duckdb.DuckDBPyConnection, at: dt.date,
                municipalities: Collection[str] | None = None, limit: int = 500
                ) -> list[dict[str, Any]]:
    """The referrals waiting on ``at``, oldest first (no patient identifiers)."""
    where_sql, params = _where_sql(municipalities)
    waiting_sql, wparams = _waiting_sql(at)
    cursor = con.execute(
        "SELECT referral_id AS solicitacao, consortium AS consorcio, "
        "requesting_municipality AS municipio, service_type AS tipo, specialty AS "
        "especialidade, procedure AS procedimento, requested_date AS solicitada_em, "
        "scheduled_date AS agendada_para, ? - requested_date AS espera_dias "
        f"FROM {REFERRALS_SQL} WHERE ({waiting_sql}) AND {where_sql} "
        "ORDER BY requested_date, referral_id LIMIT ?", [at, *wparams, *params, limit])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
