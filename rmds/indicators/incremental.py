"""What a change touched: the indicators whose inputs changed since the snapshot their
values were computed from (``rmds indicators compute --changed``)."""

from __future__ import annotations

import duckdb

from rmds.indicators.catalog import Catalog, load_catalog
from rmds.indicators.compute import inputs_of
from rmds.lake.population import POPULATION_TABLE
from rmds.lake.store import Lake

__all__ = ["stale_indicators"]

# tables every indicator reads besides its inputs: the imported consortium roster places
# municipalities in consortia for the roll-up; the population the lake was built with
# divides the rates (and weighs the roll-up)
_ALWAYS_READ = ("consortium_memberships", "consortium_roster", POPULATION_TABLE)
# inputs that also read the protected identity table (the FHIR Patient's residence)
_READS_IDENTITY = frozenset({"immunisations", "conditions", "observations", "encounters",
                             "referrals"})


def stale_indicators(lake: Lake, catalog: Catalog | None = None) -> dict[str, str]:
    """The indicators to recompute after the lake changed, each with the reason (pt-BR):
    never computed, or a table it reads changed since the snapshot its values were
    computed from. A new population file is not seen here (it is not in the lake)."""
    catalog = catalog or load_catalog()
    present = set(lake.table_names())
    computed: dict[str, int] = {}
    if {"indicator_values", "indicator_runs"} <= present:
        computed = {str(i): int(s) for i, s in lake.run(
            "SELECT v.indicator_id, min(r.source_snapshot) FROM "
            "(SELECT DISTINCT indicator_id, run_id FROM indicator_values) v "
            "JOIN indicator_runs r ON r.run_id = v.run_id "
            "WHERE r.source_snapshot IS NOT NULL GROUP BY v.indicator_id")}
    current = lake.snapshot_id()
    seen: dict[tuple[str, int], bool] = {}

    def changed(name: str, since: int) -> bool:
        if (name, since) not in seen:
            if name not in present or since >= current:
                seen[name, since] = False
            else:
                # of the identity table, indicators read only FHIR patients' residence
                only_sql = (" WHERE source_system = 'FHIR' AND role = 'paciente'"
                            if name == "identity_records" else "")
                try:
                    # net changes: a compaction deletes and re-inserts the same rows
                    rows = lake.run(
                        "SELECT count(*) FROM (SELECT * EXCLUDE (snapshot_id, rowid, "
                        "change_type), sum(CASE WHEN change_type IN ('insert', "
                        "'update_postimage') THEN 1 ELSE -1 END) AS net FROM "
                        f"ducklake_table_changes('lake', 'main', ?, ?, ?){only_sql} "
                        "GROUP BY ALL HAVING net <> 0) c", [name, since + 1, current])
                    seen[name, since] = bool(rows[0][0])
                except duckdb.Error:   # the table did not exist then: new since
                    seen[name, since] = True
        return seen[name, since]

    out: dict[str, str] = {}
    for indicator in catalog:
        since = computed.get(indicator.id)
        if since is None:
            out[indicator.id] = "nunca calculado"
            continue
        inputs = inputs_of([indicator])
        tables = sorted(inputs | set(_ALWAYS_READ) | (
            {"identity_records"} if inputs & _READS_IDENTITY else set()))
        moved = [t for t in tables if changed(t, since)]
        if moved:
            out[indicator.id] = (f"mudou desde o snapshot {since}: " + ", ".join(moved))
    return out
