"""Probabilistic matching with Splink (Fellegi–Sunter), settings declared engine-free.

Two profiles: ``rmds`` for the identity records of the lake (Brazilian names: folded, no
particles, first/last/middle parts; mother's name; birth date with day/month swaps and
typos; sex; municipality; CEP sector) and ``febrl`` for the FEBRL benchmark files. The
settings are plain Splink declarations, so the same model runs on DuckDB (default) or on
Spark through Splink's Spark backend.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import pyarrow as pa

from rmds.lake.store import fetch_arrow

__all__ = ["Predictions", "predict", "predict_with"]

LinkType = Literal["link_only", "link_and_dedupe", "dedupe_only"]



def _quiet() -> None:
    """Splink reports training progress at INFO on its own handlers; rmds shows its own."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("splink"):
            logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("splink").setLevel(logging.ERROR)


def _settings(profile: str, link_type: LinkType) -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons: list[Any]
    blocking: list[Any]

    if profile == "febrl":
        comparisons = [
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.8]),
            cl.ExactMatch("postcode"),
            cl.JaroWinklerAtThresholds("suburb", [0.9]),
            cl.ExactMatch("state"),
        ]
        blocking = [block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
                    block_on("soc_sec_id"), block_on("postcode", "street_number")]
        return SettingsCreator(link_type=link_type, unique_id_column_name="uid",
                               comparisons=comparisons,
                               blocking_rules_to_generate_predictions=blocking,
                               retain_intermediate_calculation_columns=False,
                               retain_matching_columns=False)
    comparisons = [
        cl.JaroWinklerAtThresholds("first_name", [0.95, 0.85]),
        cl.JaroWinklerAtThresholds("last_name", [0.95, 0.85]),
        cl.JaroWinklerAtThresholds("middle_names", [0.9]),
        cl.JaroWinklerAtThresholds("mother_name", [0.95, 0.85]),
        cl.DamerauLevenshteinAtThresholds("dob_text", [1, 2]),
        cl.ExactMatch("sex"),
        cl.ExactMatch("municipality"),
        cl.ExactMatch("cep5"),
    ]
    blocking = [block_on("first_name", "dob_text"), block_on("last_name", "dob_text"),
                block_on("mother_name", "dob_text"),
                block_on("first_name", "last_name", "municipality"),
                block_on("mother_name", "municipality", "dob_year")]
    return SettingsCreator(link_type=link_type, unique_id_column_name="uid",
                           comparisons=comparisons,
                           blocking_rules_to_generate_predictions=blocking,
                           retain_intermediate_calculation_columns=False,
                           retain_matching_columns=False)


@dataclass
class Predictions:
    """Scored pairs (uid_l, uid_r, match_probability, match_weight) and the trained model
    (Splink settings as JSON-ready data, reusable without retraining)."""

    pairs: pa.Table
    model: dict[str, Any]


@contextmanager
def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with bounded memory that spills beyond it into a directory of
    its own (``mkdtemp``: 0700, removed afterwards). DuckDB's default, ./.tmp, would land
    wherever the user runs rmds; a fixed shared /tmp path would let other users of the
    machine read the spilled identity data, or plant a link there beforehand."""
    spill = tempfile.mkdtemp(prefix="rmds-duckdb-spill-")
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = '{spill}'").fetchall()   # mkdtemp: no quote
        con.execute("SET memory_limit = '4GB'").fetchall()
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _load(con: duckdb.DuckDBPyConnection, tables: list[pa.Table]) -> list[str]:
    names = []
    for k, data in enumerate(tables):
        con.register(f"input_{k}", data)
        con.execute(f"CREATE TABLE linkage_input_{k} AS SELECT * FROM input_{k}").fetchall()
        con.unregister(f"input_{k}")
        names.append(f"linkage_input_{k}")
    return names


def _pairs(con: duckdb.DuckDBPyConnection, result: Any) -> pa.Table:
    return fetch_arrow(con, f"""
        SELECT uid_l, uid_r, match_probability, match_weight
        FROM {result.physical_name}""")


def predict(tables: list[pa.Table], profile: str, threshold: float = 0.5) -> Predictions:
    """Train the model on ``tables`` (one table: deduplication; two: linkage between them)
    and score every blocked pair at or above ``threshold``."""
    from splink import DuckDBAPI, Linker, block_on

    with _connect() as con:
        names = _load(con, tables)
        link_type: LinkType = "dedupe_only" if len(tables) == 1 else "link_only"
        linker = Linker(names if len(names) > 1 else names[0], _settings(profile, link_type),
                        DuckDBAPI(connection=con))
        _quiet()
        if profile == "febrl":
            linker.training.estimate_probability_two_random_records_match(
                [block_on("soc_sec_id", "date_of_birth")], recall=0.7)
            linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
            for rule in (block_on("given_name", "surname"), block_on("date_of_birth"),
                         block_on("soc_sec_id")):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, fix_u_probabilities=True)
        else:
            linker.training.estimate_probability_two_random_records_match(
                [block_on("cns"), block_on("cpf")], recall=0.6)
            linker.training.estimate_u_using_random_sampling(max_pairs=3e6, seed=1)
            # training blocks must stay small at state scale: "SILVA" in Belo Horizonte alone
            # would give tens of millions of pairs
            for rule in (block_on("first_name", "dob_text"),
                         block_on("first_name", "last_name", "mother_first"),
                         block_on("mother_name", "dob_text")):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, fix_u_probabilities=True)
        result = linker.inference.predict(threshold_match_probability=threshold)
        pairs = _pairs(con, result)
        model = linker.misc.save_model_to_json()
    return Predictions(pairs, model)


def predict_with(model: dict[str, Any], new: pa.Table, existing: pa.Table | None,
                 threshold: float) -> pa.Table:
    """Score, with an already trained model, the pairs among ``new`` records and (when
    given) between ``new`` and ``existing`` records — never existing × existing."""
    from splink import DuckDBAPI, Linker

    with _connect() as con:
        parts = []
        dedupe = dict(model, link_type="dedupe_only")
        [new_name] = _load(con, [new])
        linker = Linker(new_name, dedupe, DuckDBAPI(connection=con))
        _quiet()
        parts.append(_pairs(con, linker.inference.predict(threshold_match_probability=threshold)))
        if existing is not None and existing.num_rows:
            con.register("existing_input", existing)
            con.execute("CREATE TABLE linkage_existing AS SELECT * FROM existing_input").fetchall()
            cross = dict(model, link_type="link_only")
            linker = Linker([new_name, "linkage_existing"], cross, DuckDBAPI(connection=con))
            _quiet()
            parts.append(_pairs(con, linker.inference.predict(
                threshold_match_probability=threshold)))
    return pa.concat_tables(parts)
