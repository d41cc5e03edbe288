"""Standardised linkage input: one row per identity record, with comparable fields.

Names are folded (upper case, no accents), stripped of particles (DA, DE, DO, DOS, DAS, E)
and split into first name, last surname and the middle part; CNS and CPF are kept only when
their check digits are valid (a corrupted number must not link two people); the CEP keeps
its first five digits (the sector). All of it is one SQL query, in DuckDB's dialect, run by
an :class:`~rmds.engine.Engine` (DuckDB, or Spark through sqlglot): it uses only functions
both engines have (accents are folded with ``translate``, which both have, not DuckDB's
``strip_accents``, which Spark lacks), and the result is cast to one Arrow schema whatever
engine computed it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute

from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
from rmds.engine import Engine
from rmds.engine.sql import ident, lit
from rmds.linkage.integrity import phonetic_key

__all__ = ["FEBRL_COLUMNS", "SCHEMA", "febrl_table", "standardise"]

# Latin letters with diacritics (upper case: names are upper-cased first) and their base
_ACCENTED = "ÁÀÂÃÄÅĀĂĄÉÈÊËĒĖĘĚÍÌÎÏĪĮÓÒÔÕÖØŌŐÚÙÛÜŪŮŰŲÇĆČÑŃŇÝŸŠŚŽŹŻĎŤŘĹĽŁ"
_PLAIN = "AAAAAAAAAEEEEEEEEIIIIIIOOOOOOOOUUUUUUUUCCCNNNYYSSZZZDTRLLL"
_PARTICLES_SQL = lit(" (DA|DE|DO|DOS|DAS|E|DI|DU) ")

SCHEMA = pa.schema([
    ("uid", pa.int64()), ("record_uid", pa.string()), ("first_name", pa.string()),
    ("last_name", pa.string()), ("middle_names", pa.string()), ("full_name", pa.string()),
    ("mother_first", pa.string()), ("mother_last", pa.string()),
    ("mother_name", pa.string()), ("dob", pa.date32()), ("dob_text", pa.string()),
    ("dob_year", pa.int64()), ("sex", pa.string()), ("municipality", pa.string()),
    ("cep5", pa.string()), ("cns", pa.string()), ("cpf", pa.string()),
    ("mother_key", pa.string()),
])


def _fold_sql(column: str) -> str:
    """A name folded: upper case, accents off, only letters, particles out, one space."""
    upper_sql = (f"translate(upper(coalesce({ident(column)}, '')), {lit(_ACCENTED)}, "
                 f"{lit(_PLAIN)})")
    letters_sql = f"regexp_replace({upper_sql}, '[^A-Z ]', ' ', 'g')"
    # twice: adjacent particles share the space between them
    once_sql = f"regexp_replace(' ' || {letters_sql} || ' ', {_PARTICLES_SQL}, ' ', 'g')"
    twice_sql = f"regexp_replace({once_sql}, {_PARTICLES_SQL}, ' ', 'g')"
    return f"regexp_replace(trim({twice_sql}), ' +', ' ', 'g')"


def standardise(engine: Engine, source: pa.Table) -> pa.Table:
    """Linkage input from identity records (columns of ``identity_records`` plus
    ``record_uid``), computed by ``engine``; rows in ``uid`` order (1, 2, …)."""
    source_sql = ident("linkage_identity_source")
    engine.register("linkage_identity_source", source)
    table = engine.query(f"""
        WITH base AS (
          SELECT row_number() OVER (ORDER BY record_uid) AS uid, record_uid,
                 {_fold_sql('name')} AS n,
                 {_fold_sql('mother_name')} AS m,
                 birth_date AS dob, sex, residence_municipality AS municipality,
                 left(regexp_replace(coalesce(cep, ''), '[^0-9]', '', 'g'), 5) AS cep5,
                 regexp_replace(coalesce(cns, ''), '[^0-9]', '', 'g') AS cns,
                 regexp_replace(coalesce(cpf, ''), '[^0-9]', '', 'g') AS cpf
          FROM {source_sql})
        SELECT uid, record_uid,
               nullif(split_part(n, ' ', 1), '') AS first_name,
               nullif(CASE WHEN strpos(n, ' ') > 0
                           THEN regexp_extract(n, '([^ ]+)$', 1) END, '') AS last_name,
               nullif(trim(regexp_replace(regexp_replace(n, '^[^ ]+', ''),
                                          '[^ ]+$', '')), '') AS middle_names,
               nullif(n, '') AS full_name,
               nullif(split_part(m, ' ', 1), '') AS mother_first,
               nullif(CASE WHEN strpos(m, ' ') > 0
                           THEN regexp_extract(m, '([^ ]+)$', 1) END, '') AS mother_last,
               nullif(m, '') AS mother_name,
               dob, strftime(dob, '%Y%m%d') AS dob_text, year(dob) AS dob_year,
               nullif(sex, 'I') AS sex, municipality, nullif(cep5, '') AS cep5,
               nullif(cns, '') AS cns, nullif(cpf, '') AS cpf
        FROM base ORDER BY uid""")
    table = table.append_column("mother_key", pa.nulls(table.num_rows, pa.string()))
    table = table.select(SCHEMA.names).cast(SCHEMA)
    cns = [c if c and is_valid_cns(c) else None for c in table.column("cns").to_pylist()]
    cpf = [c if c and is_valid_cpf(c) else None for c in table.column("cpf").to_pylist()]
    table = table.set_column(table.column_names.index("cns"), "cns", pa.array(cns, pa.string()))
    table = table.set_column(table.column_names.index("cpf"), "cpf", pa.array(cpf, pa.string()))
    # the mother's name as a Portuguese phonetic key, for blocking that survives a typo; a
    # nameless newborn ("RN DE MARIA DA SILVA") names its mother in its own name
    keys = []
    for first, full, mother in zip(table.column("first_name").to_pylist(),
                                   table.column("full_name").to_pylist(),
                                   table.column("mother_name").to_pylist(), strict=True):
        if mother is None and first == "RN" and full:
            mother = full[3:]
        keys.append(phonetic_key(mother))
    return table.set_column(table.column_names.index("mother_key"), "mother_key",
                            pa.array(keys, pa.string()))


def febrl_table(path: Path) -> pa.Table:
    """A FEBRL file as a table of strings, ``rec_id`` kept as the record uid (the truth is
    read from it by the evaluation)."""
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(
                               skip_rows=1, column_names=list(FEBRL_COLUMNS)),
                           convert_options=pacsv.ConvertOptions(
                               column_types={c: pa.string() for c in FEBRL_COLUMNS}))
    columns = {}
    for c in FEBRL_COLUMNS:
        values = pa.compute.utf8_trim_whitespace(table.column(c))
        columns[c] = pa.compute.if_else(pa.compute.equal(values, ""),
                                        pa.scalar(None, pa.string()), values)
    table = pa.table(columns)
    return table.append_column("uid", pa.array(range(1, table.num_rows + 1), pa.int64()))


FEBRL_COLUMNS = ("rec_id", "given_name", "surname", "street_number", "address_1",
                 "address_2", "suburb", "postcode", "state", "date_of_birth", "soc_sec_id")
