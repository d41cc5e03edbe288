"""The engine seam: every computation over the lake runs through one small interface.

rmds writes its queries once, in DuckDB's SQL (the dialect of the one-machine deployment),
with every value and identifier rendered by sqlglot (:mod:`rmds.engine.sql`), and hands
them to an :class:`Engine`:

* :class:`~rmds.engine.duck.DuckDBEngine` — embedded DuckDB, the default (the demo, one
  state on one machine);
* :class:`~rmds.engine.spark.SparkEngine` — Apache Spark (local mode for development and
  CI, a cluster through ``spark-submit`` in production), which reads the lake's current
  Parquet data files as they are and receives every query transpiled by sqlglot.

An engine registers Arrow tables and Parquet datasets as named relations, materialises
queries as named relations (in the order a computation declares them), runs a query into
Arrow and writes Parquet. Results are written back into the lake by rmds (one DuckLake
commit), whatever engine computed them: the catalog is the lake's, not the engine's.
"""

from __future__ import annotations

from rmds.engine.base import ENGINES, Engine, open_engine

__all__ = ["ENGINES", "Engine", "open_engine"]
