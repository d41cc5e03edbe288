"""Benchmark: the whole indicator catalog on the full-scale synthetic state, rmds against a
straightforward pandas implementation of the same indicators, in the same run.

    python benchmarks/indicators.py [--scale 1.0] [--year 2023] [--work DIR]

1. The synthetic state (``--scale``, one year) is generated and ingested into a lake under
   ``--work`` (default ``~/.cache/rmds-bench/indicadores``); an existing lake there is reused.
2. rmds: ``compute`` — every indicator, every level (municipality, region, macro-region, URS,
   consortium, state) and every month, quarter and year, with intervals, smoothing and
   suppression, written to the mart. Target (issue #7): under 60 s on this machine.
3. pandas: the same declarations evaluated with pandas (filters interpreted on DataFrames
   with SQL's three-valued logic, ``groupby`` counts, ``merge`` to the territory, the same
   interval/smoothing functions), after loading the tables it needs from the lake into
   DataFrames. Time with and without the load; the ratio is printed for both.
4. Both results are compared cell by cell (numerator and denominator).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

from rmds.codes.icsap import OBSTETRIC_PROCEDURES  # noqa: E402
from rmds.codes.vaccines import COVERAGE_DOSES  # noqa: E402
from rmds.indicators.catalog import Indicator, Measure, load_catalog  # noqa: E402
from rmds.indicators.compute import compute  # noqa: E402
from rmds.indicators.stats import eb_smooth, poisson_interval, wilson_interval  # noqa: E402
from rmds.lake.store import Lake  # noqa: E402
from rmds.territory import Level, ReferencePack, vintage_for_year  # noqa: E402
from rmds.territory.model import STATE_CODE, slug  # noqa: E402

Frame = Any  # pandas ships no type information here


# ------------------------------------------------------------------ filters on DataFrames
class Evaluator:
    """SQL filter → boolean Series, with NULL handled as SQL does (Kleene logic)."""

    def __init__(self, frame: Frame, codesets: dict[str, set[str]]) -> None:
        self.frame = frame
        self.codesets = codesets

    def mask(self, text: str | None) -> pd.Series:
        if not text:
            return pd.Series(True, index=self.frame.index)
        result = self.value(sqlglot.parse_one(text))
        return result.fillna(False).astype(bool)

    def _known(self, result: pd.Series, *operands: Any) -> pd.Series:
        out = result.astype("boolean")
        for operand in operands:
            if isinstance(operand, pd.Series):
                out[operand.isna()] = pd.NA
        return out

    def value(self, node: Any) -> Any:
        if isinstance(node, exp.Paren):
            return self.value(node.this)
        if isinstance(node, exp.Column):
            return self.frame[node.name]
        if isinstance(node, exp.Literal):
            return node.name if node.is_string else float(node.name)
        if isinstance(node, exp.Boolean):
            return node.this
        if isinstance(node, exp.And):
            return self._bool(node.this) & self._bool(node.expression)
        if isinstance(node, exp.Or):
            return self._bool(node.this) | self._bool(node.expression)
        if isinstance(node, exp.Not):
            return ~self._bool(node.this)
        if isinstance(node, exp.Is):
            return self.value(node.this).isna().astype("boolean")
        compare = {exp.EQ: "__eq__", exp.NEQ: "__ne__", exp.GT: "__gt__", exp.GTE: "__ge__",
                   exp.LT: "__lt__", exp.LTE: "__le__"}
        for kind, method in compare.items():
            if isinstance(node, kind):
                left, right = self.value(node.this), self.value(node.expression)
                base = left if isinstance(left, pd.Series) else right
                filled = base.where(base.notna(), other=None)
                result = getattr(filled if base is left else left, method)(
                    right if base is left else filled)
                return self._known(result, left, right)
        if isinstance(node, exp.Between):
            this = self.value(node.this)
            low, high = self.value(node.args["low"]), self.value(node.args["high"])
            return self._known((this >= low) & (this <= high), this)
        if isinstance(node, exp.In):
            this = self.value(node.this)
            options = [self.value(e) for e in node.expressions]
            return self._known(this.isin(options), this)
        if isinstance(node, exp.DateDiff):
            end, start = self.value(node.this), self.value(node.expression)
            return (pd.to_datetime(end) - pd.to_datetime(start)).dt.days
        if isinstance(node, exp.Left):
            return self.value(node.this).str[: int(node.expression.name)]
        if isinstance(node, exp.Right):
            return self.value(node.this).str[-int(node.expression.name):]
        if isinstance(node, exp.Anonymous):
            column = self.value(node.expressions[0])
            if node.name.lower() == "pni_dose":
                dose = self.value(node.expressions[1])
                pairs = COVERAGE_DOSES[node.expressions[2].name]
                hit = pd.Series(False, index=self.frame.index)
                for vaccine_code, dose_code in pairs:
                    hit |= (column == vaccine_code) & (dose == dose_code)
                return self._known(hit, column)
            if node.name.lower() == "cid_between":
                low, high = node.expressions[1].name, node.expressions[2].name
                head = column.str[:3]
                return self._known((head >= low) & (head <= high), column)
            members = self.codesets[node.expressions[1].name]
            return self._known(column.isin(members) | column.str[:3].isin(members), column)
        raise NotImplementedError(node.sql())

    def _bool(self, node: Any) -> pd.Series:
        value = self.value(node)
        if isinstance(value, pd.Series) and value.dtype != "boolean":
            return value.astype("boolean")
        return value


# ------------------------------------------------------------------------ pandas catalog
PERIODS = ("mes", "trimestre", "ano")


def period_keys(dates: pd.Series) -> dict[str, pd.Series]:
    year = dates.dt.year.astype(str)
    return {"mes": dates.dt.strftime("%Y-%m"),
            "trimestre": year + "-T" + dates.dt.quarter.astype(str), "ano": year}


class PandasCatalog:
    def __init__(self, frames: dict[str, Frame], pack: ReferencePack, population: Frame,
                 year: int) -> None:
        self.pack = pack
        self.year = year
        self.codesets = {"icsap": set(pack.icsap.codes),
                         "procedimento_obstetrico": set(OBSTETRIC_PROCEDURES)}
        self.population = population
        self.membership = self._membership()
        self.inputs = self._inputs(frames)
        ends = [("ano", f"{year}", dt.date(year, 12, 31), 12)]
        ends += [("trimestre", f"{year}-T{q}", dt.date(year, 3 * q, 1) + pd.offsets.MonthEnd(0),
                  3) for q in range(1, 5)]
        ends += [("mes", f"{year}-{m:02d}", dt.date(year, m, 1) + pd.offsets.MonthEnd(0), 1)
                 for m in range(1, 13)]
        self.periods = pd.DataFrame(ends, columns=["period_type", "period", "end", "months"])

    def _membership(self) -> Frame:
        vintage = vintage_for_year(self.year)
        consortia = self.pack.consortium_members
        rows = []
        for m in self.pack.municipalities.values():
            rows += [(m.ibge7, Level.MUNICIPALITY.value, m.ibge7),
                     (m.ibge7, Level.REGION.value, m.region[vintage]),
                     (m.ibge7, Level.MACRO.value, m.macro[vintage]),
                     (m.ibge7, Level.URS.value, slug(m.urs)),
                     (m.ibge7, Level.STATE.value, STATE_CODE)]
            rows += [(m.ibge7, Level.CONSORTIUM.value, c) for c, codes in consortia.items()
                     if m.ibge7 in codes and c in self.pack.consortia]
        return pd.DataFrame(rows, columns=["municipality", "level", "unit_code"])

    def _inputs(self, frames: dict[str, Frame]) -> dict[str, Frame]:
        vintage = vintage_for_year(self.year)
        regions = pd.DataFrame([(m.ibge7, m.region[vintage], m.macro[vintage])
                                for m in self.pack.municipalities.values()],
                               columns=["municipality", "region", "macro"])
        h = frames["hospitalisations"]
        for side, column in (("residence", "residence_municipality"),
                             ("facility", "facility_municipality")):
            h = h.merge(regions.rename(columns={"municipality": column,
                                                "region": f"{side}_region",
                                                "macro": f"{side}_macro"}),
                        on=column, how="left")
        patients = frames["patients"]
        i = frames["immunisations"].merge(
            patients.rename(columns={"residence_municipality": "p_res",
                                     "birth_date": "p_birth"}), on="patient_key", how="left")
        fhir = i["source_system"] == "FHIR"
        i.loc[~fhir, ["p_res", "p_birth"]] = None
        i["residence_municipality"] = i["residence_municipality"].fillna(i["p_res"])
        birth = i["birth_date"].fillna(i["p_birth"])
        # completed years from the calendar (birthday reached or not), as rmds.age does
        on = i["vaccination_date"]
        before = (on.dt.month < birth.dt.month) | (
            (on.dt.month == birth.dt.month) & (on.dt.day < birth.dt.day))
        age = on.dt.year - birth.dt.year - before.astype(int)
        i["age_years"] = i["age_years"].fillna(age)
        out = {"deaths": frames["deaths"], "births": frames["births"],
               "hospitalisations": h, "immunisations": i, "referrals": frames["referrals"],
               "notifications": frames["notifications"]}
        for name in ("conditions", "observations", "encounters"):
            out[name] = frames[name].merge(patients[["patient_key", "residence_municipality"]],
                                           on="patient_key", how="left")
        return out

    def _events(self, m: Measure) -> Frame:
        assert m.input and m.date and m.territory
        frame = self.inputs[m.input]
        keep = Evaluator(frame, self.codesets).mask(m.filter)
        keep &= frame[m.territory].notna() & frame[m.date].notna()
        if m.distinct:
            keep &= frame[m.distinct].notna()
        part = frame.loc[keep]
        if m.among is not None:
            other = self.inputs[m.among.input]
            chosen = other.loc[Evaluator(other, self.codesets).mask(m.among.filter)]
            firsts = chosen.groupby(m.among.key)[m.among.date].min() if m.among.date else None
            if firsts is not None:
                first = part[m.among.key].map(firsts)
                part = part.loc[first.notna() & (first <= part[m.date])]
            else:
                part = part.loc[part[m.among.key].isin(chosen[m.among.key])]
        column = m.distinct or m.sum
        return pd.DataFrame({"municipality": part[m.territory].to_numpy(),
                             "d": part[m.date].to_numpy(),
                             "k": part[column].to_numpy() if column else None})

    def counts(self, m: Measure) -> Frame:
        if m.population:
            pop = self.population[self.population["year"] == self.year]
            if m.ages is not None:
                low, high = m.ages
                pop = pop[(pop["age_low"] >= low) & ((high >= 80) | (pop["age_low"] <= high - 4))]
            if m.sex:
                pop = pop[pop["sex"] == m.sex]
            total = pop.groupby("municipality")["pop"].sum()
            out = [pd.DataFrame({"municipality": total.index, "period_type": kind,
                                 "period": period, "n": total.to_numpy() * months / 12})
                   for kind, period, _, months in self.periods.itertuples(index=False)]
            return pd.concat(out)
        events = self._events(m)
        if m.target_year_offset is not None:
            # SI-PNI's annual target: the events of year + offset, × months ÷ 12
            year = self.year + m.target_year_offset
            dates = pd.to_datetime(events["d"])
            total = events[dates.dt.year == year].groupby("municipality").size()
            out = [pd.DataFrame({"municipality": total.index, "period_type": kind,
                                 "period": period, "n": total.to_numpy() * months / 12})
                   for kind, period, _, months in self.periods.itertuples(index=False)]
            return pd.concat(out)
        start = pd.Timestamp(self.year, 1, 1)
        end = pd.Timestamp(self.year + 1, 1, 1)
        if m.window_months is not None:
            # Previne Brasil's semester: distinct keys with an event in the window of
            # months ending with each period's last month
            dates = pd.to_datetime(events["d"])
            out = []
            for kind, period, last, _ in self.periods.itertuples(index=False):
                stop = pd.Timestamp(last) + pd.Timedelta(days=1)
                first = (stop - pd.DateOffset(months=m.window_months))
                inside = events[(dates >= first) & (dates < stop)]
                n = inside.groupby("municipality")["k"].nunique()
                out.append(pd.DataFrame({"municipality": n.index, "period_type": kind,
                                         "period": period, "n": n.to_numpy()}))
            return pd.concat(out)
        if m.cumulative:
            events = events[events["d"] < end]
            if m.distinct:
                events = events.groupby(["municipality", "k"], as_index=False)["d"].min()
            out = []
            for kind, period, last, _ in self.periods.itertuples(index=False):
                upto = events[events["d"] <= pd.Timestamp(last)]
                n = upto.groupby("municipality").size()
                out.append(pd.DataFrame({"municipality": n.index, "period_type": kind,
                                         "period": period, "n": n.to_numpy()}))
            return pd.concat(out)
        events = events[(events["d"] >= start) & (events["d"] < end)]
        keys = period_keys(pd.to_datetime(events["d"]))
        out = []
        for kind in PERIODS:
            grouped = events.assign(period=keys[kind]).groupby(["municipality", "period"])
            n = (grouped["k"].nunique() if m.distinct else
                 grouped["k"].sum() if m.sum else grouped.size())
            frame = n.rename("n").reset_index()
            frame["period_type"] = kind
            out.append(frame)
        return pd.concat(out)

    def indicator(self, ind: Indicator) -> Frame:
        keys = ["level", "unit_code", "period_type", "period"]
        parts = {}
        for role, measure in (("numerator", ind.numerator), ("denominator", ind.denominator)):
            if measure is None:
                continue
            c = self.counts(measure).merge(self.membership, on="municipality")
            parts[role] = c.groupby(keys)["n"].sum().rename(role)
        frame = pd.concat(parts.values(), axis=1).reset_index()
        frame["numerator"] = frame["numerator"].fillna(0.0)
        frame["indicator_id"] = ind.id
        k = frame["numerator"].to_numpy(np.float64)
        n = (frame["denominator"].fillna(0).to_numpy(np.float64)
             if ind.denominator is not None else np.ones(len(frame)))
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["value"] = np.where(n > 0, k / n * ind.multiplier, np.nan)
        low, high = (wilson_interval if ind.method == "wilson" else poisson_interval)(k, n)
        frame["ci_low"], frame["ci_high"] = low * ind.multiplier, high * ind.multiplier
        if ind.denominator is not None:
            municipal = frame["level"] == "municipio"
            for _, index in frame[municipal].groupby("period").groups.items():
                rows = frame.loc[index]
                frame.loc[index, "smoothed"] = eb_smooth(
                    rows["numerator"].to_numpy(np.float64),
                    rows["denominator"].fillna(0).to_numpy(np.float64),
                    proportion=ind.method == "wilson") * ind.multiplier
        return frame


def load_frames(lake: Lake) -> dict[str, Frame]:
    con = lake.con
    columns = {
        "deaths": "residence_municipality, death_date, death_type, age_years, age_days, sex, "
                  "underlying_cause, maternal_timing",
        "births": "residence_municipality, birth_date, birth_weight_g, gestational_weeks, "
                  "gestation_band, prenatal_visits, prenatal_band, delivery_type, mother_age",
        "hospitalisations": "residence_municipality, facility_municipality, admission_date, "
                            "main_diagnosis, admission_character, procedure_performed, died, "
                            "aih_type, age_years, length_of_stay",
        "immunisations": "source_system, patient_key, residence_municipality, "
                         "vaccination_date, birth_date, age_years, vaccine_acronym, "
                         "vaccine_code, dose_code",
        "conditions": "patient_key, code, ciap2_code, onset_date",
        "observations": "patient_key, component_code, effective_date",
        "encounters": "patient_key, encounter_class, reason_code, encounter_date",
        "referrals": "requesting_municipality, service_type, status, requested_date, "
                     "performed_date, diagnosis_date, passengers",
        "notifications": "residence_municipality, symptom_onset_date, disease, probable, "
                         "outcome",
    }
    frames = {name: con.sql(f"SELECT {cols} FROM {name}").df()
              for name, cols in columns.items()}
    frames["patients"] = con.sql(
        "SELECT record_key AS patient_key, any_value(residence_municipality) AS "
        "residence_municipality, any_value(birth_date) AS birth_date FROM identity_records "
        "WHERE source_system = 'FHIR' AND role = 'paciente' GROUP BY 1").df()
    for frame in frames.values():
        for column in frame.columns:
            if column.endswith("_date"):
                frame[column] = pd.to_datetime(frame[column])
    return frames


def load_population(path: Path) -> Frame:
    wide = pd.read_csv(path, dtype={"cod_ibge7": str})
    groups = [c for c in wide.columns if c.startswith("pop_") and c != "pop_total"]
    long = wide.melt(id_vars=["cod_ibge7", "ano", "sexo"], value_vars=groups,
                     var_name="group", value_name="pop")
    return pd.DataFrame({"municipality": long["cod_ibge7"], "year": long["ano"],
                         "sex": long["sexo"].map({1: "M", 2: "F"}),
                         "age_low": long["group"].str[4:6].astype(int),
                         "pop": long["pop"].astype(float)})


def build(work: Path, scale: float, year: int) -> None:
    rmds = [sys.executable, "-m", "rmds.cli"]
    if not (work / "estado" / "manifest.json").exists():
        print(f"gerando o estado sintético (escala {scale}, {year}) em {work / 'estado'} ...")
        subprocess.run([*rmds, "synth", "--scale", str(scale), "--years", str(year),
                        "--seed", "7", "--out", str(work / "estado")], check=True)
    if not (work / "lago").exists():
        print("carregando o lago ...")
        subprocess.run([*rmds, "ingest", str(work / "estado"), "--lake",
                        str(work / "lago")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--work", type=Path,
                        default=Path.home() / ".cache" / "rmds-bench" / "indicadores")
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()
    work: Path = args.work.expanduser()
    work.mkdir(parents=True, exist_ok=True)
    build(work, args.scale, args.year)
    pack = ReferencePack.from_settings()
    catalog = load_catalog()
    population_file = work / "estado" / "populacao.csv"
    with Lake(work / "lago") as lake:
        counts = lake.counts()
        print("lago: " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))
        started = time.perf_counter()
        result = compute(lake, pack, years=(args.year,), population=population_file)
        rmds_seconds = time.perf_counter() - started
        print(f"rmds: {result.indicators} indicadores, {result.rows:,} células em "
              f"{rmds_seconds:.1f} s (etapas: {result.timings})")
        if args.skip_pandas:
            return
        started = time.perf_counter()
        frames = load_frames(lake)
        population = load_population(population_file)
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        engine = PandasCatalog(frames, pack, population, args.year)
        results = [engine.indicator(ind) for ind in catalog]
        pandas_seconds = time.perf_counter() - started
        mart = lake.con.sql("SELECT indicator_id, level, unit_code, period_type, period, "
                            "numerator, denominator FROM indicator_values").df()
    theirs = pd.concat(results, ignore_index=True)
    keys = ["indicator_id", "level", "unit_code", "period_type", "period"]
    both = mart.merge(theirs[[*keys, "numerator", "denominator"]], on=keys, how="outer",
                      suffixes=("_rmds", "_pandas"), indicator=True)
    only_pandas = int((both["_merge"] == "right_only").sum())
    matched = both[both["_merge"] == "both"]
    num_diff = np.abs(matched["numerator_rmds"] - matched["numerator_pandas"]).max()
    den = matched["denominator_rmds"].fillna(0) - matched["denominator_pandas"].fillna(0)
    den_diff = float(np.abs(den).max())
    missing = both[both["_merge"] == "left_only"]
    zero_rest = bool((missing["numerator_rmds"] == 0).all())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"pandas: leitura do lago {load_seconds:.1f} s + cálculo {pandas_seconds:.1f} s "
          f"({len(theirs):,} células não vazias)")
    print(f"conferência: {len(matched):,} células em comum; maior diferença no numerador "
          f"{num_diff:g}, no denominador {den_diff:.6g}; células só no pandas: {only_pandas}; "
          f"células só no rmds têm numerador zero: {zero_rest}")
    print(f"razão (pandas ÷ rmds): {pandas_seconds / rmds_seconds:.1f}× só o cálculo; "
          f"{(pandas_seconds + load_seconds) / rmds_seconds:.1f}× com a leitura")
    print(f"meta da issue #7: catálogo inteiro em menos de 60 s — rmds {rmds_seconds:.1f} s "
          f"({'cumprida' if rmds_seconds < 60 else 'NÃO cumprida'}); pico de memória "
          f"{peak:.1f} GB")


if __name__ == "__main__":
    main()
