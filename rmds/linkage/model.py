"""Probabilistic matching with Splink (Fellegi–Sunter), settings declared engine-free.

Two profiles: ``rmds`` for the identity records of the lake (Brazilian names: folded, no
particles, first/last/middle parts; mother's name; birth date with day/month swaps and
typos; sex; municipality; CEP sector) and ``febrl`` for the FEBRL benchmark files. The
settings are plain Splink declarations, so the same model runs on DuckDB (default) or on
Spark through Splink's Spark backend (``engine="spark"``: Arrow tables in, Spark
DataFrames for Splink, scored pairs back as Arrow), and a model saved on one engine scores
on the other.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rmds.engine import ENGINES
from rmds.engine.duck import fetch_arrow
from rmds.engine.sql import ident, lit
from rmds.exceptions import ConfigurationError

__all__ = ["BLOCKING", "PAIRS", "PART_ROWS", "TRAIN_ROWS", "Predictions", "birth_year_parts",
           "predict", "predict_with"]

LinkType = Literal["link_only", "link_and_dedupe", "dedupe_only"]

#: blocking rules of the ``rmds`` profile: a pair is scored when it agrees on every column
#: of one rule (``mother_key``: the mother's name as a Portuguese phonetic key, so that a
#: typo in the mother's name of a nameless newborn still reaches comparison). Chance pairs
#: per record grow with the population: counted at scale 0.01 and extrapolated to the
#: state (``rmds.linkage.blocking``), last name + birth date (~97 a record) and first +
#: last name + municipality (~145, blocks of ~22,000 in Belo Horizonte) made a state-scale
#: linkage spill for hours; they are narrowed by municipality and by birth year, at a cost
#: of 0.0014 of blocking recall (docs/linkage.md)
BLOCKING: tuple[tuple[str, ...], ...] = (
    ("first_name", "dob_text"), ("last_name", "dob_text", "municipality"),
    ("mother_name", "dob_text"), ("first_name", "last_name", "municipality", "dob_year"),
    ("mother_name", "municipality", "dob_year"), ("mother_key", "dob_text"),
    ("mother_first", "dob_text", "municipality"), ("mother_last", "dob_text", "municipality"))

#: a linkage of more records than this is scored in parts of whole birth years, each of at
#: most about this many records. Every rule of :data:`BLOCKING` holds the birth date or its
#: year, so a pair any rule blocks has both records born in the same year, and the parts
#: together score exactly the pairs of one pass; what changes is that Splink's table of
#: blocked pairs (hundreds of millions of rows for the whole state) is made one part at a
#: time, in memory, instead of all at once spilled to disk. A record without a birth date is
#: in no part: no rule can block it.
PART_ROWS = 500_000
_PART_COLUMNS = ("dob_text", "dob_year")
#: a linkage of more records than this learns its m-probabilities (the expectation-
#: maximisation steps) on every k-th birth year only, k = ceil(records / TRAIN_ROWS): the
#: EM blocks that leave the birth date out (to learn how birth dates of one person differ)
#: grow with the square of the records — 11 million pairs at scale 0.1, a billion for the
#: whole state. Whole years keep a person's records together (the pairs to learn from
#: shrink by k, the chance pairs by k²); every k-th year keeps all ages. The prior and the
#: u-probabilities are still estimated on every record.
TRAIN_ROWS = 2_000_000
if not all(set(rule) & set(_PART_COLUMNS) for rule in BLOCKING):   # pragma: no cover
    raise AssertionError("every blocking rule must hold the birth date or its year: the "
                         "linkage is scored in parts of whole birth years")


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
    blocking = [block_on(*rule) for rule in BLOCKING]
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
def bounded_duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with bounded memory that spills beyond it into a directory of
    its own (``mkdtemp``: 0700, removed afterwards). DuckDB's default, ./.tmp, would land
    wherever the user runs rmds; a fixed shared /tmp path would let other users of the
    machine read the spilled identity data, or plant a link there beforehand."""
    spill = tempfile.mkdtemp(prefix="rmds-duckdb-spill-")
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = {lit(spill)}").fetchall()
        con.execute("SET memory_limit = '4GB'").fetchall()
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


class _Backend(Protocol):
    """Where Splink runs: its database API, input tables and the pairs it scored."""

    def api(self) -> Any:
        """A Splink database API, one per linker: an API caches intermediate tables by
        name, and a second linker on a shared API would reuse the first one's."""

    def load(self, data: pa.Table) -> Any:
        """An Arrow table as a Splink input (a table name or a Spark DataFrame)."""

    def pairs(self, result: Any) -> pa.Table:
        """Scored pairs of a prediction, as Arrow in :data:`PAIRS`."""

    def drop(self, loaded: Any) -> None:
        """Free an input :meth:`load` made."""


PAIRS = pa.schema([("uid_l", pa.int64()), ("uid_r", pa.int64()),
                   ("match_probability", pa.float64()), ("match_weight", pa.float64())])


class _DuckDBBackend:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._count = 0

    def api(self) -> Any:
        from splink import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def load(self, data: pa.Table) -> Any:
        name = f"linkage_input_{self._count}"
        self._count += 1
        self.con.register("linkage_incoming", data)
        try:
            self.con.execute(f"CREATE TABLE {ident(name)} AS SELECT * FROM linkage_incoming"
                             ).fetchall()
        finally:
            self.con.unregister("linkage_incoming")
        return name

    def pairs(self, result: Any) -> pa.Table:
        return fetch_arrow(self.con, f"""
            SELECT uid_l, uid_r, match_probability, match_weight
            FROM {ident(result.physical_name)}""").cast(PAIRS)

    def drop(self, loaded: Any) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {ident(loaded)}").fetchall()


class _SparkBackend:
    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def api(self) -> Any:
        from splink import SparkAPI

        # local mode: few partitions (Splink's default is half of the shuffle partitions,
        # per intermediate table); lineage broken by Parquet files in the checkpoint folder
        return SparkAPI(  # type: ignore[no-untyped-call]
            spark_session=self.spark, break_lineage_method="parquet",
            num_partitions_on_repartition=_SPARK_PARTITIONS)

    def load(self, data: pa.Table) -> Any:
        return self.spark.createDataFrame(data)

    def pairs(self, result: Any) -> pa.Table:
        frame = result.as_spark_dataframe().select(*PAIRS.names)
        table: pa.Table = frame.toArrow()
        return table.cast(PAIRS)

    def drop(self, loaded: Any) -> None:
        loaded.unpersist()


_SPARK_PARTITIONS = 4


@contextmanager
def _backend(engine: str) -> Iterator[_Backend]:
    """Splink on ``engine``. On Spark, Splink's intermediate tables are written as Parquet
    under the session's checkpoint folder: an ``mkdtemp`` folder of this run (0700, removed
    afterwards), unless one was configured (``spark.checkpoint.dir``: on a cluster it must
    be a path every executor reaches), and Splink's temporary views are dropped."""
    if engine == "duckdb":
        with bounded_duckdb() as con:
            yield _DuckDBBackend(con)
        return
    if engine != "spark":
        raise ConfigurationError(
            f"motor desconhecido {engine!r}; conhecidos: {', '.join(ENGINES)}")
    from rmds.engine.spark import session

    spark = session()
    context = spark.sparkContext
    own = None
    if not context.getConf().get("spark.checkpoint.dir"):
        # a folder per run (the session keeps pointing at the last one, removed below)
        own = tempfile.mkdtemp(prefix="rmds-spark-linkage-")
        context.setCheckpointDir(own)
    try:
        yield _SparkBackend(spark)
    finally:
        for table in spark.catalog.listTables():
            if table.isTemporary and table.name.startswith("__splink__"):
                spark.catalog.dropTempView(table.name)
        if own is not None:
            shutil.rmtree(own, ignore_errors=True)


def predict(tables: list[pa.Table], profile: str, threshold: float = 0.5, *,
            engine: str = "duckdb", part_rows: int | None = None,
            train_rows: int | None = None) -> Predictions:
    """Train the model on ``tables`` (one table: deduplication; two: linkage between them)
    and score every blocked pair at or above ``threshold``, with Splink on ``engine``
    (``"duckdb"`` or ``"spark"``).

    The model is trained on the engine that scores; the training is the same declaration
    on both (the same u-sampling seed, EM blocks and starting values), but the engines
    differ where Splink's backends do (a seeded sample is ``USING SAMPLE … REPEATABLE`` on
    DuckDB, ``ORDER BY rand(seed)`` on Spark), so two trainings give slightly different
    parameters — enough to move a few pairs across the acceptance line. One model trained
    once and applied on either engine (:func:`predict_with`, ``rmds link --reuse-model``)
    gives the same probabilities to ~1e-8 and the same persons
    (``tests/engine/test_linkage_parity.py``).

    The ``rmds`` profile's deduplication of more than ``part_rows`` records is trained on
    all of them and scored in parts of whole birth years (:data:`PART_ROWS`): the same
    pairs with the same probabilities as one pass. Beyond ``train_rows`` records, its
    m-probabilities are learnt on a sample of whole birth years (:data:`TRAIN_ROWS`)."""
    from splink import Linker

    with _backend(engine) as backend:
        inputs = [backend.load(t) for t in tables]
        link_type: LinkType = "dedupe_only" if len(tables) == 1 else "link_only"
        linker = Linker(inputs if len(inputs) > 1 else inputs[0],
                        _settings(profile, link_type), backend.api())
        _quiet()
        model = None
        if profile == "febrl":
            _train_febrl(linker)
        else:
            model = _train_rmds(backend, linker, tables, train_rows or TRAIN_ROWS)
        parts = (_parts(tables, part_rows or PART_ROWS)
                 if profile == "rmds" and len(tables) == 1 else None)
        if parts is None and model is None:
            pairs = backend.pairs(
                linker.inference.predict(threshold_match_probability=threshold))
            model = linker.misc.save_model_to_json()
        else:   # the trained model scores the parts; the whole table is no longer needed
            model = model or linker.misc.save_model_to_json()
            _forget(linker)
            backend.drop(inputs[0])
            pairs = pa.concat_tables([PAIRS.empty_table()] + [
                scored for (part,) in parts or [tables]
                for scored in _score(backend, model, part, None, threshold)])
    return Predictions(pairs, model)


def _train_febrl(linker: Any) -> None:
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id", "date_of_birth")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (block_on("given_name", "surname"), block_on("date_of_birth"),
                 block_on("soc_sec_id")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, fix_u_probabilities=True)


def _train_rmds(backend: _Backend, linker: Any, tables: list[pa.Table],
                train_rows: int) -> dict[str, Any] | None:
    """Train the ``rmds`` profile: the prior and the u-probabilities on every record, the
    m-probabilities on every record too or, beyond ``train_rows``, on a sample of whole
    birth years (:data:`TRAIN_ROWS`). Returns the model learnt on a sample, or None when
    ``linker`` itself holds it."""
    from splink import Linker, block_on

    # a small first load (one system, one month) may have no pair under a training rule:
    # that step keeps the declared starting parameters instead of failing the whole
    # linkage (Splink raises when a rule yields no pairs)
    _trained("prior", lambda: linker.training.estimate_probability_two_random_records_match(
        [block_on("cns"), block_on("cpf")], recall=0.6))
    _trained("u", lambda: linker.training.estimate_u_using_random_sampling(
        max_pairs=3e6, seed=1))
    sample = _training_sample(tables[0], train_rows) if len(tables) == 1 else None
    learner, loaded = linker, None
    if sample is not None:
        loaded = backend.load(sample)
        learner = Linker(loaded, linker.misc.save_model_to_json(), backend.api())
        _quiet()
    # training blocks must stay small at state scale: "SILVA" in Belo Horizonte alone would
    # give tens of millions of pairs
    for rule in (block_on("first_name", "dob_text"),
                 block_on("first_name", "last_name", "mother_first"),
                 block_on("mother_name", "dob_text")):
        _trained("em", lambda rule=rule: learner.training
                 .estimate_parameters_using_expectation_maximisation(
                     rule, fix_u_probabilities=True))
    if learner is linker:
        return None
    prior = linker.misc.save_model_to_json()["probability_two_random_records_match"]
    model: dict[str, Any] = dict(learner.misc.save_model_to_json(),
                                 probability_two_random_records_match=prior)
    _forget(learner)
    backend.drop(loaded)
    return model


def _forget(linker: Any) -> None:
    """Drop the tables Splink made for ``linker`` (its inputs are the caller's)."""
    linker.table_management.delete_tables_created_by_splink_from_db()


def _trained(step: str, train: Any) -> None:
    """Run one training step; one that finds no pairs to learn from (a small first load)
    is skipped with a warning, the parameters keep their declared starting values."""
    from splink.internals.exceptions import SplinkException

    try:
        train()
    except (SplinkException, ValueError, ZeroDivisionError) as error:
        logging.getLogger("rmds.linkage").warning(
            "treino do modelo de vinculação: etapa %s sem pares para aprender (%s); "
            "mantidos os parâmetros iniciais", step, type(error).__name__)


def _for_dialect(model: dict[str, Any], profile: str, dialect: str) -> dict[str, Any]:
    """A trained model whose SQL is in ``dialect``. A saved model carries its comparisons
    as SQL of the engine that trained it (``jaro_winkler_similarity`` on DuckDB,
    ``jaro_winkler`` from Splink's jar on Spark); for another engine the profile's
    declaration is rendered again and the trained parameters are copied level by level."""
    if model.get("sql_dialect") == dialect:
        return model
    fresh: dict[str, Any] = _settings(profile, model["link_type"]).create_settings_dict(
        dialect)
    fresh["probability_two_random_records_match"] = (
        model["probability_two_random_records_match"])
    fresh["sql_dialect"] = dialect
    for comparison, trained in zip(fresh["comparisons"], model["comparisons"], strict=True):
        if comparison["output_column_name"] != trained["output_column_name"]:
            raise ConfigurationError(
                f"o modelo salvo não é do perfil {profile!r}: rode a vinculação completa")
        for level, trained_level in zip(comparison["comparison_levels"],
                                        trained["comparison_levels"], strict=True):
            for key in ("m_probability", "u_probability"):
                if key in trained_level:
                    level[key] = trained_level[key]
    return fresh


def birth_year_parts(years: pa.ChunkedArray | pa.Array, part_rows: int = PART_ROWS
                     ) -> list[pa.Array]:
    """The birth years present in ``years`` gathered into parts (consecutive years, in
    order) of at most ``part_rows`` records each; a year with more records than that is a
    part alone. Records without a year are in no part."""
    present = pc.drop_null(years).to_numpy()
    values, counts = np.unique(present, return_counts=True)
    parts: list[list[int]] = []
    size = 0
    for year, count in zip(values.tolist(), counts.tolist(), strict=True):
        if not parts or size + count > part_rows:
            parts.append([])
            size = 0
        parts[-1].append(year)
        size += count
    return [pa.array(years_, pa.int64()) for years_ in parts]


def _training_sample(table: pa.Table, train_rows: int) -> pa.Table | None:
    """The records of every k-th birth year (:data:`TRAIN_ROWS`), or None when ``table``
    is small enough to learn from whole."""
    if table.num_rows <= train_rows:
        return None
    k = -(-table.num_rows // train_rows)
    years = pc.fill_null(table.column("dob_year"), -1).to_numpy()
    return table.filter(pa.array((years >= 0) & (years % k == 0)))


def _parts(tables: list[pa.Table], part_rows: int) -> list[list[pa.Table]] | None:
    """``tables`` cut into parts of whole birth years, or None when they are small enough
    to score in one pass."""
    if sum(t.num_rows for t in tables) <= part_rows:
        return None
    years = pa.chunked_array([t.column("dob_year") for t in tables], pa.int64())
    return [[t.filter(pc.is_in(t.column("dob_year"), value_set=group)) for t in tables]
            for group in birth_year_parts(years, part_rows)]


def _score(backend: _Backend, model: dict[str, Any], new: pa.Table,
           existing: pa.Table | None, threshold: float) -> list[pa.Table]:
    """Pairs among ``new`` and between ``new`` and ``existing`` scored by a trained model
    (in ``backend``'s dialect); what was loaded is freed afterwards."""
    from splink import Linker

    if new.num_rows == 0:
        return []
    parts = []
    new_input = backend.load(new)
    loaded = [new_input]
    linker = Linker(new_input, dict(model, link_type="dedupe_only"), backend.api())
    _quiet()
    parts.append(backend.pairs(
        linker.inference.predict(threshold_match_probability=threshold)))
    _forget(linker)
    if existing is not None and existing.num_rows:
        loaded.append(backend.load(existing))
        linker = Linker(loaded, dict(model, link_type="link_only"), backend.api())
        _quiet()
        parts.append(backend.pairs(linker.inference.predict(
            threshold_match_probability=threshold)))
        _forget(linker)
    for table in loaded:
        backend.drop(table)
    return parts


def predict_with(model: dict[str, Any], new: pa.Table, existing: pa.Table | None,
                 threshold: float, *, profile: str = "rmds", engine: str = "duckdb",
                 part_rows: int | None = None) -> pa.Table:
    """Score, with an already trained model of ``profile`` (trained on either engine), the
    pairs among ``new`` records and (when given) between ``new`` and ``existing`` records —
    never existing × existing — with Splink on ``engine`` (``"duckdb"`` or ``"spark"``);
    for the ``rmds`` profile, in parts of whole birth years when there are more than
    ``part_rows`` records (:data:`PART_ROWS`)."""
    with _backend(engine) as backend:
        model = _for_dialect(model, profile, engine)
        tables = [new] if existing is None or not existing.num_rows else [new, existing]
        parts = _parts(tables, part_rows or PART_ROWS) if profile == "rmds" else None
        scored: list[pa.Table] = [PAIRS.empty_table()]
        for part in parts if parts is not None else [tables]:
            scored += _score(backend, model, part[0], part[1] if len(part) > 1 else None,
                             threshold)
    return pa.concat_tables(scored)
