"""The synthetic state: determinism, statistics against configured rates, formats, truth."""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
from rmds.codes.vaccines import CALENDAR, DOSE_LABELS
from rmds.exceptions import ConfigurationError
from rmds.sources.datasus.dbc import DbcReader
from rmds.synth import SynthConfig, generate, parse_years
from rmds.systems.registry import map_file, open_source
from rmds.territory import ReferencePack

YEARS = (2022, 2023, 2024)
Z = 3.29  # two-sided 99.9 %: a correct generator fails one of these about once in 1,000 runs


@pytest.fixture(scope="module")
def state(pack: ReferencePack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "estado"
    generate(SynthConfig(0.01, YEARS, 11, out), pack)
    return out


@pytest.fixture(scope="module")
def rates(state: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / "rates.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def truth(state: Path) -> pa.Table:
    return pq.read_table(state / "verdade" / "registros.parquet")


@pytest.fixture(scope="module")
def people(state: Path) -> pa.Table:
    return pq.read_table(state / "verdade" / "pessoas.parquet")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(pack: ReferencePack,
                                                                 tmp_path: Path) -> None:
    a = generate(SynthConfig(0.002, (2023,), 5, tmp_path / "a"), pack).out
    b = generate(SynthConfig(0.002, (2023,), 5, tmp_path / "b"), pack).out
    c = generate(SynthConfig(0.002, (2023,), 6, tmp_path / "c"), pack).out
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert len(da) > 40
    assert da == db
    differing = [name for name in da if dc.get(name) != da[name]]
    assert len(differing) > len(da) // 2


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        parse_years("2024-2022")
    with pytest.raises(ConfigurationError):
        SynthConfig(1.5, (2023,), 1, Path("x"))
    assert parse_years("2022-2024") == (2022, 2023, 2024)


def test_every_source_format_is_written(state: Path) -> None:
    names = {p.relative_to(state).as_posix() for p in state.rglob("*") if p.is_file()}
    for year in YEARS:
        yy = f"{year % 100:02d}"
        assert f"SIM/DOMG{year}.dbc" in names
        assert f"SINASC/DNMG{year}.dbc" in names
        assert all(f"SIH/RDMG{yy}{m:02d}.dbc" in names for m in range(1, 13))
        assert all(f"SIA/PAMG{yy}{m:02d}.dbc" in names for m in range(1, 13))
        assert f"CNES/STMG{yy}12.dbc" in names
        assert f"PNI/vacinacao_MG_{year}.csv" in names
        assert f"FHIR/ndjson/Encounter.{year}.ndjson" in names
    assert "FHIR/ndjson/Patient.ndjson" in names
    assert any(n.startswith("FHIR/bundles/") for n in names)
    assert any(n.startswith("CONSORCIOS/") for n in names)
    manifest = json.loads((state / "manifest.json").read_text())
    assert set(manifest) <= names
    assert all(hashlib.sha256((state / n).read_bytes()).hexdigest() == h
               for n, h in manifest.items() if n.startswith(("SIM/", "PNI/")))


def test_files_read_back_by_rmds_quarantining_only_deliberate_errors(
        state: Path, pack: ReferencePack, truth: pa.Table) -> None:
    municipalities = pack.ibge6_to_7_table()
    seen = set()
    date_errors = pc.or_(truth.column("birth_date_swapped"), truth.column("birth_year_typo"))
    for path in sorted(state.glob("*/*.dbc")) + sorted(state.glob("PNI/*.csv")):
        with open_source(path) as source:
            assert source.system is not None, path
            results = [r for r, _ in map_file(source, municipalities)]
        assert sum(r.rows_in for r in results) > 0, path
        assert all(r.reconciles() for r in results)
        seen.add(source.system)
        quarantined = {row for r in results for row in r.quarantine.column(
            "source_row").to_pylist()}
        if not quarantined:
            continue
        # a refused row must be one the generator broke on purpose: a birth date made
        # later than the event by a swapped day/month or a mistyped year
        name = f"{path.parent.name}/{path.name}"
        in_file = pc.and_(pc.equal(truth.column("file"), name),
                          pc.not_equal(truth.column("role"), "recem_nascido"))
        flags = date_errors.filter(in_file).to_pylist()
        assert flags, (name, sorted(quarantined)[:5])
        assert all(flags[row - 1] for row in quarantined), name
        fields = {f for r in results for f in r.quarantine.column("field").to_pylist()}
        assert fields <= {"DTNASC", "NASC", "dt_nascimento_paciente"}, fields
    assert seen == {"SIM", "SINASC", "SIH", "SIA", "CNES", "PNI", "SINAN"}


def test_dbf_output_is_read_by_dbfread_like_our_reader(pack: ReferencePack,
                                                       tmp_path: Path) -> None:
    dbfread = pytest.importorskip("dbfread")
    out = generate(SynthConfig(0.002, (2023,), 3, tmp_path / "dbf", dbc=False), pack).out
    dbc = generate(SynthConfig(0.002, (2023,), 3, tmp_path / "dbc"), pack).out
    for name in ("SIM/DOMG2023", "SINASC/DNMG2023", "SIH/RDMG2306", "CNES/STMG2312"):
        records = list(dbfread.DBF(out / f"{name}.dbf", encoding="latin-1",
                                   char_decode_errors="strict"))
        with DbcReader(dbc / f"{name}.dbc") as reader:
            ours = pa.Table.from_batches(list(reader.iter_batches()))
        assert len(records) == ours.num_rows > 0
        first = records[0]
        for column in ("NOME", "NOMEMAE", "DTOBITO", "CAUSABAS", "N_AIH", "CNES", "PESO"):
            if column in first:
                assert str(first[column]).strip() == (ours.column(column)[0].as_py() or "")


def test_ground_truth_covers_every_identifying_record(state: Path, truth: pa.Table) -> None:
    sources = truth.group_by(["source", "file", "role"]).aggregate([("person_id", "count")])
    counts = {(r["file"], r["role"]): r["person_id_count"] for r in sources.to_pylist()}
    for year in YEARS:
        with DbcReader(state / f"SIM/DOMG{year}.dbc") as reader:
            assert counts[(f"SIM/DOMG{year}.dbc", "falecido")] == reader.header.records
        with DbcReader(state / f"SINASC/DNMG{year}.dbc") as reader:
            n = reader.header.records
        assert counts[(f"SINASC/DNMG{year}.dbc", "mae")] == n
        assert counts[(f"SINASC/DNMG{year}.dbc", "recem_nascido")] == n
        csv = pacsv.read_csv(state / f"PNI/vacinacao_MG_{year}.csv",
                             parse_options=pacsv.ParseOptions(delimiter=";"),
                             convert_options=pacsv.ConvertOptions(column_types={
                                 "id_documento": pa.string()}))
        assert counts[(f"PNI/vacinacao_MG_{year}.csv", "vacinado")] == csv.num_rows
    patients = sum(1 for _ in (state / "FHIR/ndjson/Patient.ndjson").open())
    assert counts[("FHIR/ndjson/Patient.ndjson", "paciente")] == patients
    # deliberate duplicates of vaccination records point at their original
    dups = truth.filter(pc.is_valid(truth.column("duplicate_of")))
    assert dups.num_rows > 0
    originals = set(truth.column("record").to_pylist())
    assert set(dups.column("duplicate_of").to_pylist()) <= originals


def test_every_cns_and_cpf_is_valid_unless_marked_corrupted(state: Path, truth: pa.Table,
                                                            people: pa.Table) -> None:
    for column, check in (("cns", is_valid_cns), ("cns_second", is_valid_cns),
                          ("cpf", is_valid_cpf)):
        values = [v for v in people.column(column).to_pylist() if v]
        assert values and all(check(v) for v in values), column
    checked = {"cns": 0, "cpf": 0}
    for year in YEARS:
        csv = pacsv.read_csv(state / f"PNI/vacinacao_MG_{year}.csv",
                             parse_options=pacsv.ParseOptions(delimiter=";"),
                             convert_options=pacsv.ConvertOptions(column_types={
                                 c: pa.string() for c in ("id_documento", "nu_cns_paciente",
                                                          "nu_cpf_paciente")}))
        flags = truth.filter(pc.equal(truth.column("file"), f"PNI/vacinacao_MG_{year}.csv"))
        status = dict(zip(flags.column("record").to_pylist(),
                          zip(flags.column("cns_status").to_pylist(),
                              flags.column("cpf_status").to_pylist(), strict=True),
                          strict=True))
        for record, cns, cpf in zip(csv.column("id_documento").to_pylist(),
                                    csv.column("nu_cns_paciente").to_pylist(),
                                    csv.column("nu_cpf_paciente").to_pylist(), strict=True):
            cns_status, cpf_status = status[record]
            cns, cpf = cns or None, cpf or None
            assert (cns is None) == (cns_status == "ausente")
            if cns is not None:
                assert is_valid_cns(cns) == (cns_status != "corrompido"), (cns, cns_status)
                checked["cns"] += cns_status == "corrompido"
            if cpf is not None:
                assert is_valid_cpf(cpf) == (cpf_status != "corrompido"), (cpf, cpf_status)
                checked["cpf"] += cpf_status == "corrompido"
    assert checked["cns"] > 0 and checked["cpf"] > 0


def _within(observed: float, expected: float) -> bool:
    return abs(observed - expected) <= Z * math.sqrt(expected)


def _babies(people: pa.Table, year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    birth = people.column("birth_date").to_numpy(zero_copy_only=False)
    death = people.column("death_date").to_numpy(zero_copy_only=False)
    is_baby = pc.is_valid(people.column("mother_person_id")).to_numpy(zero_copy_only=False)
    mother = people.column("mother_person_id").to_numpy(zero_copy_only=False)
    born = is_baby & (mother >= 0) & (birth >= np.datetime64(f"{year}-01-01")) & (
        birth < np.datetime64(f"{year + 1}-01-01"))
    ids = people.column("person_id").to_numpy()
    return ids[born], birth[born], death[born]


def test_births_and_infant_mortality_match_configured_rates(rates: dict[str, Any], people: pa.Table
                                                            ) -> None:
    configured = rates["configurado"]
    expected = rates["esperado"]
    for year in YEARS:
        ids, _, _ = _babies(people, year)
        assert _within(ids.size, expected["births"][str(year)]), (year, ids.size)
    # infant mortality of the first two cohorts (followed a whole year inside the window)
    deaths = births = 0
    for year in YEARS[:2]:
        _, birth, death = _babies(people, year)
        births += birth.size
        died = ~np.isnat(death) & ((death - birth).astype(int) < 365)
        deaths += int(died.sum())
    expected_deaths = configured["infant_mortality_per_1000"] / 1000 * births
    assert _within(deaths, expected_deaths), (deaths, expected_deaths)


def test_hospitalisation_rate_matches_configured_rate(state: Path, rates: dict[str, Any],
                                                      pack: ReferencePack) -> None:
    municipalities = pack.ibge6_to_7_table()
    by_year: dict[int, int] = {}
    for path in sorted((state / "SIH").glob("RDMG*.dbc")):
        with open_source(path) as source:
            for result, _ in map_file(source, municipalities):
                t = result.accepted
                ordinary = pc.and_(pc.invert(t.column("died")), pc.invert(
                    pc.starts_with(t.column("main_diagnosis"), "O")))
                years = pc.year(t.column("admission_date")).filter(ordinary).to_pylist()
                for y in years:
                    by_year[y] = by_year.get(y, 0) + 1
    for year in YEARS[:2]:  # the last year loses stays that end after the window
        assert _within(by_year[year], rates["esperado"]["hospitalisations_non_obstetric"][
            str(year)]), (year, by_year[year])
    person_years = rates["esperado"]["person_years"]["2022"]
    rate = by_year[2022] / person_years * 1000
    assert 40 < rate < 80  # admissions per 1,000 inhabitants, plausible for SUS-MG


def test_birth_outcomes_match_configured_shares(state: Path, rates: dict[str, Any],
                                                pack: ReferencePack) -> None:
    municipalities = pack.ibge6_to_7_table()
    parts = []
    for path in sorted((state / "SINASC").glob("DNMG*.dbc")):
        with open_source(path) as source:
            parts += [result.accepted for result, _ in map_file(source, municipalities)]
    births = pa.concat_tables(parts)
    weights = births.column("birth_weight_g").drop_null().to_numpy()
    configured = rates["configurado"]
    assert abs((weights < 2500).mean() - configured["low_birth_weight_share"]) < 0.015
    weeks = births.column("gestational_weeks").drop_null().to_numpy()
    assert abs((weeks < 37).mean() - configured["preterm_share"]) < 0.015
    caesarean = pc.mean(pc.equal(births.column("delivery_type"), "cesareo")).as_py()
    assert abs(caesarean - configured["caesarean_share"]) < 0.03


def _vaccinated(state: Path, truth: pa.Table, acronym: str, dose: str) -> set[int]:
    """The people given a calendar dose, by whatever product stands for it (hexavalent D3
    for pentavalent D3, and so on: rmds.codes.vaccines)."""
    [calendar] = [d for d in CALENDAR if (d.vaccine.acronym, d.dose_code) == (acronym, dose)]
    counted = set(calendar.counted)
    people: set[int] = set()
    lookup = {(f, r): p for f, r, p in zip(truth.column("file").to_pylist(),
                                           truth.column("record").to_pylist(),
                                           truth.column("person_id").to_pylist(), strict=True)}
    for path in sorted((state / "PNI").glob("*.csv")):
        csv = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=";"),
                             convert_options=pacsv.ConvertOptions(column_types={
                                 "id_documento": pa.string(), "co_vacina": pa.string(),
                                 "co_dose_vacina": pa.string()}))
        for record, code, given in zip(csv.column("id_documento").to_pylist(),
                                       csv.column("co_vacina").to_pylist(),
                                       csv.column("co_dose_vacina").to_pylist(), strict=True):
            if (code, given) in counted:
                people.add(lookup[(f"PNI/{path.name}", record)])
    labels = {(code, DOSE_LABELS[d]) for code, d in counted}
    patient_person: dict[str, int] = {}
    for f, r, p in zip(truth.column("file").to_pylist(), truth.column("record").to_pylist(),
                       truth.column("person_id").to_pylist(), strict=True):
        if f.startswith("FHIR/"):
            patient_person[r] = p
    files = list((state / "FHIR/ndjson").glob("Immunization.*.ndjson"))
    resources = [json.loads(line) for f in files for line in f.open(encoding="utf-8")]
    for bundle in (state / "FHIR/bundles").rglob("*.json"):
        data = json.loads(bundle.read_text(encoding="utf-8"))
        urls = {e["fullUrl"]: e["resource"] for e in data["entry"]}
        for entry in data["entry"]:
            res = entry["resource"]
            if res["resourceType"] == "Immunization":
                res = dict(res, patient={"reference": "Patient/" + urls[
                    res["patient"]["reference"]]["id"]})
                resources.append(res)
    for res in resources:
        if (res["vaccineCode"]["coding"][0]["code"],
                res["protocolApplied"][0]["doseNumberString"]) in labels:
            people.add(patient_person[res["patient"]["reference"].split("/", 1)[1]])
    return people


def test_vaccine_coverage_of_a_birth_cohort_matches_configured(state: Path, rates: dict[str, Any],
                                                               people: pa.Table,
                                                               truth: pa.Table) -> None:
    ids, _, death = _babies(people, 2022)
    alive_a_year = np.isnat(death)
    cohort = set(ids[alive_a_year].tolist())
    for acronym, dose in (("PENTA", "3"), ("BCG", "9"), ("SCR", "1")):
        vaccinated = _vaccinated(state, truth, acronym, dose) & cohort
        configured = rates["configurado"]["vaccine_coverage"][f"{acronym}_{dose}"]
        n = len(cohort)
        sd = math.sqrt(configured * (1 - configured) / n)
        observed = len(vaccinated) / n
        # municipal factors average 1 over the population, not over births: allow 1 pp
        assert abs(observed - configured) <= Z * sd + 0.01, (acronym, observed, configured)


def test_municipalities_differ_as_their_factors_say(state: Path, pack: ReferencePack,
                                                    rates: dict[str, Any]) -> None:
    municipios = pacsv.read_csv(state / "verdade" / "municipios.csv",
                                convert_options=pacsv.ConvertOptions(column_types={
                                    "cod_ibge7": pa.string()}))
    factor = dict(zip(municipios.column("cod_ibge7").to_pylist(),
                      municipios.column("fator_hospital").to_pylist(), strict=True))
    population = dict(zip(municipios.column("cod_ibge7").to_pylist(),
                          municipios.column("populacao_base").to_pylist(), strict=True))
    counts: dict[str, int] = {}
    municipalities = pack.ibge6_to_7_table()
    for path in sorted((state / "SIH").glob("RDMG22*.dbc")):
        with open_source(path) as source:
            for result, _ in map_file(source, municipalities):
                for code in result.accepted.column("residence_municipality").to_pylist():
                    counts[code] = counts.get(code, 0) + 1
    large = [c for c, pop in population.items() if pop >= 50_000]
    observed = np.array([counts.get(c, 0) / population[c] for c in large])
    configured = np.array([factor[c] for c in large])
    assert np.corrcoef(observed, configured)[0, 1] > 0.5
    assert observed.std() / observed.mean() > 0.05  # real spread between municipalities


def test_fhir_resources_parse_and_bundle_references_resolve(state: Path) -> None:
    for path in sorted((state / "FHIR/ndjson").glob("*.ndjson")):
        with path.open(encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                resource = json.loads(line)
                assert resource["resourceType"] == path.name.split(".")[0]
                if i > 200:
                    break
    bundles = sorted((state / "FHIR/bundles").rglob("*.json"))
    assert bundles
    for path in bundles[:50]:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        assert bundle["type"] == "transaction"
        urls = {e["fullUrl"] for e in bundle["entry"]}
        text = path.read_text(encoding="utf-8")
        for ref in text.split('"reference":"')[1:]:
            assert ref.split('"', 1)[0] in urls
        patient = next(e["resource"] for e in bundle["entry"]
                       if e["resource"]["resourceType"] == "Patient")
        systems = {i["system"].rsplit("/", 1)[1] for i in patient.get("identifier", [])}
        assert systems <= {"cns", "cpf"}


def test_degraded_municipalities_have_worse_data(state: Path, pack: ReferencePack) -> None:
    municipios = pacsv.read_csv(state / "verdade" / "municipios.csv",
                                convert_options=pacsv.ConvertOptions(column_types={
                                    "cod_ibge7": pa.string()}))
    degraded = set(municipios.filter(municipios.column("qualidade_degradada"))
                   .column("cod_ibge7").to_pylist())
    municipalities = pack.ibge6_to_7_table()
    ill = {True: [0, 0], False: [0, 0]}
    for path in sorted((state / "SIM").glob("*.dbc")):
        with open_source(path) as source:
            for result, _ in map_file(source, municipalities):
                t = result.accepted
                for code, cause in zip(t.column("residence_municipality").to_pylist(),
                                       t.column("underlying_cause").to_pylist(), strict=True):
                    group = ill[code in degraded]
                    group[0] += cause.startswith("R")
                    group[1] += 1
    assert ill[True][0] / ill[True][1] > 2 * ill[False][0] / ill[False][1]


def test_twins_and_homonyms_are_in_the_truth_at_their_rates(people: pa.Table) -> None:
    from rmds.synth.events import TWIN_SHARE

    mother = people.column("mother_person_id").to_numpy(zero_copy_only=False)
    birth = people.column("birth_date").to_numpy(zero_copy_only=False)
    babies = mother >= 0
    keys = np.stack([mother[babies], birth[babies].astype("int64")], axis=1)
    _, sizes = np.unique(keys, axis=0, return_counts=True)
    # a twin delivery is two babies of one mother on one day; deliveries = babies − twins
    twins = int((sizes == 2).sum())
    deliveries = int(babies.sum()) - twins
    assert _within(twins, TWIN_SHARE * deliveries), (twins, deliveries)
    assert int((sizes > 2).sum()) == 0
    # homonyms: the same full name and birth date, different people with other mothers
    names = people.column("name").to_pylist()
    seen: dict[tuple[str, int], int] = {}
    for name, day, mom in zip(names, birth.astype("int64").tolist(), mother.tolist(),
                              strict=True):
        if mom < 0:
            seen[(name, day)] = seen.get((name, day), 0) + 1
    assert sum(1 for c in seen.values() if c > 1) >= 10


def _spelling(word: str) -> str:
    plain = unicodedata.normalize("NFKD", word)
    return "".join(c for c in plain if not unicodedata.combining(c)).replace("Z", "S")


def test_twins_with_one_first_name_have_second_names_apart(people: pa.Table) -> None:
    # MARIA EDUARDA and MARIA CLARA, never MARIA and MARIA CLARA: parents give twins who
    # share a first name a second name each, and not the same one
    mother = people.column("mother_person_id").to_pylist()
    birth = people.column("birth_date").to_pylist()
    sex = people.column("sex").to_pylist()
    names = people.column("name").to_pylist()
    deliveries: dict[tuple[int, object], list[int]] = {}
    for i, (mom, day) in enumerate(zip(mother, birth, strict=True)):
        if mom >= 0:
            deliveries.setdefault((mom, day), []).append(i)
    alike = 0
    for pair in deliveries.values():
        if len(pair) != 2 or sex[pair[0]] != sex[pair[1]]:
            continue
        a, b = (names[i].split() for i in pair)
        if a[0] != b[0]:
            continue
        alike += 1
        assert a != b and not set(a) <= set(b) and not set(b) <= set(a), (a, b)
        # nor spellings of one name (LUÍS and LUIZ)
        assert _spelling(a[1]) != _spelling(b[1]), (a, b)
    assert alike >= 1  # a fifth of same-sex twins share the first name
