"""Write the synthetic state in the sources' own formats, with the ground truth.

DATASUS systems as DBC (or DBF) in their layouts and file names (``DOMG2023.dbc``,
``DNMG2023.dbc``, ``RDMG2301.dbc``, ``PAMG2301.dbc``, ``STMG2312.dbc``); vaccination doses
as the OpenDataSUS-style CSV; primary care and part of the vaccination as FHIR R4 (bulk
NDJSON per resource type, and transaction Bundles for municipalities that send bundles);
consortium referral reports as CSV. Every record that identifies a person has a row in
``verdade/registros.parquet`` naming its true person.

Why this module is long: one writer per source format of the synthetic state (DBC/DBF,
CSV, FHIR NDJSON and Bundles, consortium reports), sharing the rendering of identities and
record errors; to be split by format, each beside its system's declaration
(rmds/systems/).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rmds.age import completed_years
from rmds.sources.datasus.dbf_writer import FieldSpec, dbf_bytes, write_dbc
from rmds.sources.datasus.layouts import CNES_ST, IDENTIFIED, SIA_PA, SIH_RD, SIM_DO, SINASC_DN
from rmds.synth.catalog import ADMISSIONS, OUTPATIENT, REFERRAL_SERVICES
from rmds.synth.config import PRODUCTS
from rmds.synth.events import Events, Factors
from rmds.synth.identity import ErrorRates, Identities, RecordIdentity, render
from rmds.synth.state import EPOCH, Population, Territory, days
from rmds.territory import AGE_GROUPS, Vintage
from rmds.territory.model import UFS

__all__ = ["Writer"]

NAMESPACE = uuid.UUID("6f1c5b4e-2d7a-4c1e-9b3f-2a5d8e7c9f10")
CNS_SYSTEM = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns"
CPF_SYSTEM = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf"
CNES_SYSTEM = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes"
CID10_SYSTEM = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRCID10"
CIAP2_SYSTEM = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRCIAP2"
VACCINE_SYSTEM = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRImunobiologico"
MOTHER_EXT = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: share of pregnancies registered in primary care without the last menstrual period (DUM):
#: an assumption, not a measured rate; real e-SUS APS extracts have such records, and the
#: Previne Brasil prenatal indicator cannot count them (its window starts at the DUM)
UNDATED_PREGNANCY = 0.08


def _dates(day: npt.NDArray[np.int32], fmt: str) -> pa.Array:
    values = pa.array((EPOCH + day.astype(np.int64)).astype("datetime64[D]"))
    return pc.strftime(values.cast(pa.timestamp("s")), format=fmt)


def _lpad(values: npt.NDArray[np.integer] | pa.Array, width: int) -> pa.Array:
    array = values if isinstance(values, pa.Array) else pa.array(values)
    return pc.utf8_lpad(array.cast(pa.string()), width, "0")


def _blank_where(mask: npt.NDArray[np.bool_], values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), values.cast(pa.string()))


def _exported(codes: npt.NDArray[np.str_], year: int) -> pa.Array:
    """Codes as the OpenDataSUS vaccination CSVs of 2020–2024 carry them: written as
    floats, leading zeros lost (``310620.0``, CNES ``0012345`` → ``12345.0``)."""
    if not 2020 <= year <= 2024:
        return pa.array(codes)
    text = codes.astype(str)
    stripped = np.char.lstrip(text, "0")
    floats = np.char.add(np.where(stripped == "", "0", stripped), ".0")
    return pa.array(np.where(text == "", text, floats))


@dataclass
class Truth:
    parts: list[pa.Table] = field(default_factory=list)

    def add(self, source: str, file: str, record: pa.Array, role: str,
            person: npt.NDArray[np.int64], flags: dict[str, npt.NDArray[np.generic]] | None,
            duplicate_of: pa.Array | None = None) -> None:
        n = person.size
        columns: dict[str, pa.Array] = {
            "source": pa.array([source] * n, pa.string()),
            "file": pa.array([file] * n, pa.string()),
            "record": record.cast(pa.string()),
            "role": pa.array([role] * n, pa.string()),
            "person_id": pa.array(person, pa.int64()),
        }
        defaults = {"name_typo": False, "name_abbreviated": False, "particle_dropped": False,
                    "married_name": False, "mother_name_typo": False,
                    "birth_date_swapped": False, "birth_year_typo": False,
                    "cns_status": "", "cpf_status": ""}
        for key, default in defaults.items():
            value = (flags or {}).get(key)
            columns[key] = pa.array(value if value is not None else [default] * n)
        columns["duplicate_of"] = (duplicate_of.cast(pa.string()) if duplicate_of is not None
                                   else pa.nulls(n, pa.string()))
        self.parts.append(pa.table(columns))

    def table(self) -> pa.Table:
        return pa.concat_tables(self.parts)


class Writer:
    def __init__(self, out: Path, territory: Territory, people: Population,
                 ident: Identities, factors: Factors, events: Events,
                 years: tuple[int, ...], rng: np.random.Generator, dbc: bool,
                 errors: ErrorRates | None = None) -> None:
        self.out, self.t, self.p, self.ident = out, territory, people, ident
        self.f, self.ev, self.years, self.rng, self.dbc = factors, events, years, rng, dbc
        self.errors = errors or ErrorRates()
        self.truth = Truth()
        self._patient_index: dict[str, int] = {}
        self.files: list[str] = []
        self.codes6 = np.array([m.ibge6 for m in territory.municipalities])
        self.codes7 = np.array([m.ibge7 for m in territory.municipalities])
        # each municipality's UF (IBGE code, acronym): DATASUS publishes one file per UF
        self.state_of = np.array([m.state for m in territory.municipalities])
        self.uf_of = np.array([UFS[m.state][0] for m in territory.municipalities])
        self.cnes = np.array([f.cnes for f in territory.facilities])
        self.facility_muni = np.array([f.municipality for f in territory.facilities])

    # ------------------------------------------------------------- plumbing
    def _path(self, folder: str, name: str) -> Path:
        path = self.out / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.files.append(str(path.relative_to(self.out)))
        return path

    def _datasus(self, folder: str, stem: str, table: pa.Table,
                 fields: Sequence[FieldSpec], year: int) -> str:
        name = f"{stem}.{'dbc' if self.dbc else 'dbf'}"
        path = self._path(folder, name)
        data = dbf_bytes(table, fields, updated=dt.date(year + 1, 1, 31))
        if self.dbc:
            write_dbc(path, data)
        else:
            path.write_bytes(data)
        return name

    def _by_uf(self, folder: str, stem: str, table: pa.Table,
               fields: Sequence[FieldSpec], year: int, muni: npt.NDArray[np.integer]
               ) -> list[tuple[str, npt.NDArray[np.int64] | None]]:
        """One DATASUS file per UF of the rows' municipalities ``muni`` (``stem`` holds
        ``{uf}``), as DATASUS publishes them; (file name, its rows), rows ``None`` where
        one UF holds them all (a pack of one state: the file as it always was)."""
        return [(self._datasus(folder, stem.format(uf=acronym), table if rows is None
                               else table.take(pa.array(rows)), fields, year), rows)
                for acronym, rows in self._uf_groups(muni)]

    def _uf_groups(self, muni: npt.NDArray[np.integer]
                   ) -> list[tuple[str, npt.NDArray[np.int64] | None]]:
        """(UF acronym, the rows of that UF) for rows in municipalities ``muni``; rows
        ``None`` where one UF holds them all (or there are none: the pack's first UF)."""
        uf = self.uf_of[muni]
        present = np.unique(uf)
        if present.size <= 1:
            return [(str(present[0]) if present.size else str(self.uf_of[0]), None)]
        return [(str(a), np.flatnonzero(uf == a)) for a in present]

    def _truths(self, source: str, written: list[tuple[str, npt.NDArray[np.int64] | None]],
                record: pa.Array, role: str, person: npt.NDArray[np.int64],
                flags: dict[str, npt.NDArray[np.generic]] | None) -> None:
        """The truth of the records of each file :meth:`_by_uf` wrote."""
        for name, rows in written:
            if rows is None:
                self.truth.add(source, f"{source}/{name}", record, role, person, flags)
                continue
            self.truth.add(source, f"{source}/{name}", record.take(pa.array(rows)), role,
                           person[rows], None if flags is None else
                           {k: np.asarray(v)[rows] for k, v in flags.items()})

    def _render(self, person: npt.NDArray[np.int64], fold: bool) -> RecordIdentity:
        return render(self.rng, self.ident, self.p, self.t, person, rates=self.errors,
                      fold=fold)

    def _missing(self, muni: npt.NDArray[np.int16], good: float, bad: float
                 ) -> npt.NDArray[np.bool_]:
        return self.rng.random(muni.size) < np.where(self.t.degraded[muni], bad, good)

    # ----------------------------------------------------------------- SIM
    def sim(self) -> None:
        d = self.ev.deaths
        if not d:
            return
        for year in self.years:
            keep = d["registered"] & (d["day"] >= days(year)) & (d["day"] < days(year + 1))
            rows = np.flatnonzero(keep)
            rows = rows[np.argsort(d["day"][rows], kind="stable")]
            person = d["person"][rows]
            n = rows.size
            ident = self._render(person, fold=True)
            muni = self.p.municipality[person]
            day = d["day"][rows]
            age_days = day - self.p.birth[person]
            years_old = completed_years(self.p.birth[person], day)
            months = np.floor(age_days / 30.44).astype(int)
            idade = np.where(age_days < 1, "000", np.where(
                age_days < 28, np.char.add("2", np.char.zfill(age_days.astype(str), 2)),
                np.where(years_old < 1, np.char.add("3", np.char.zfill(
                    np.minimum(months, 11).astype(str), 2)),
                    np.where(years_old < 100, np.char.add("4", np.char.zfill(
                        years_old.astype(str), 2)), np.char.add("5", np.char.zfill(
                            (years_old - 100).astype(str), 2))))))
            facility = d["facility"][rows]
            occ = np.where(facility >= 0, self.facility_muni[np.maximum(facility, 0)], muni)
            cause = d["cause"][rows]
            maternal = d["kind"][rows] == "maternal"
            race_missing = self._missing(muni, 0.02, 0.25)
            received = day + d["delay"][rows]
            numero = pa.array([f"{year % 100:02d}{i + 1:07d}" for i in range(n)])
            table = pa.table({
                "ORIGEM": pa.array(["1"] * n), "TIPOBITO": pa.array(["2"] * n),
                "DTOBITO": _dates(day, "%d%m%Y"),
                "HORAOBITO": _lpad(self.rng.integers(0, 24, n) * 100
                                   + self.rng.integers(0, 60, n), 4),
                "DTNASC": _dates(ident.birth_day, "%d%m%Y"), "IDADE": pa.array(idade),
                "SEXO": pa.array(np.where(self.p.female[person], "2", "1")),
                "RACACOR": _blank_where(race_missing, pa.array(self.p.race[person])),
                "ESTCIV": pa.array(["9"] * n), "ESC": pa.array(["9"] * n),
                "CODMUNRES": pa.array(self.codes6[muni]),
                "LOCOCOR": pa.array(d["place"][rows]).cast(pa.string()),
                "CODESTAB": _blank_where(facility < 0, pa.array(self.cnes[np.maximum(
                    facility, 0)])),
                "CODMUNOCOR": pa.array(self.codes6[occ]),
                "SEMAGESTAC": pa.nulls(n, pa.string()), "PESO": pa.nulls(n, pa.string()),
                "TPMORTEOCO": _blank_where(~maternal, pa.array(["5"] * n)),
                "OBITOGRAV": pa.array(np.where(maternal, "2", "")),
                "OBITOPUERP": pa.array(np.where(maternal, "1", "")),
                "ASSISTMED": pa.array(np.where(facility >= 0, "1", "9")),
                "NECROPSIA": pa.array(["2"] * n),
                "LINHAA": pa.array(np.char.add("*", cause)), "LINHAB": pa.nulls(n, pa.string()),
                "LINHAII": pa.nulls(n, pa.string()), "CAUSABAS": pa.array(cause),
                "DTCADASTRO": _dates(received, "%d%m%Y"),
                "DTRECEBIM": _dates(received + 2, "%d%m%Y"),
                "DIFDATA": _lpad(np.minimum(received - day, 999), 3),
                "NUMERODO": numero, "NOME": ident.name, "NOMEMAE": ident.mother_name,
                "NUMSUS": ident.cns, "ENDRES": ident.address, "CEPRES": ident.cep,
            })
            written = self._by_uf("SIM", f"DO{{uf}}{year}", table, SIM_DO + IDENTIFIED["SIM"],
                                  year, muni)
            self._truths("SIM", written, numero, "falecido", person, ident.flags)

    # -------------------------------------------------------------- SINASC
    def sinasc(self) -> None:
        b = self.ev.births
        for year in self.years:
            keep = b["registered"] & (b["day"] >= days(year)) & (b["day"] < days(year + 1))
            rows = np.flatnonzero(keep)
            n = rows.size
            mother = b["mother"][rows]
            ident = self._render(mother, fold=True)
            muni = b["muni"][rows]
            facility = b["facility"][rows]
            place = np.where(facility >= 0, "1", "3")
            birth_muni = np.where(facility >= 0, self.facility_muni[np.maximum(facility, 0)],
                                  muni)
            weeks = b["weeks"][rows]
            band = np.searchsorted(np.array([22, 28, 32, 37, 42]), weeks, side="right") + 1
            visits = b["visits"][rows]
            consultas = np.searchsorted(np.array([1, 4, 7]), visits, side="right") + 1
            visits_missing = self._missing(muni, 0.02, 0.30)
            weeks_missing = self._missing(muni, 0.02, 0.20)
            race_missing = self._missing(muni, 0.02, 0.25)
            day = b["day"][rows]
            received = day + b["delay"][rows]
            numero = pa.array([f"{year % 100:02d}{i + 1:07d}" for i in range(n)])
            table = pa.table({
                "ORIGEM": pa.array(["1"] * n),
                "CODESTAB": _blank_where(facility < 0, pa.array(self.cnes[np.maximum(
                    facility, 0)])),
                "CODMUNNASC": pa.array(self.codes6[birth_muni]), "LOCNASC": pa.array(place),
                "IDADEMAE": _lpad(b["mother_age"][rows], 2), "ESTCIVMAE": pa.array(["9"] * n),
                "ESCMAE": pa.array(["9"] * n), "QTDFILVIVO": pa.nulls(n, pa.string()),
                "QTDFILMORT": pa.nulls(n, pa.string()),
                "CODMUNRES": pa.array(self.codes6[muni]),
                "GESTACAO": _blank_where(weeks_missing, pa.array(band)),
                "GRAVIDEZ": pa.array(np.where(b["plural"][rows], "2", "1")),
                "PARTO": pa.array(np.where(b["caesarean"][rows], "2", "1")),
                "CONSULTAS": pa.array(np.where(visits_missing, "9", consultas.astype(str))),
                "DTNASC": _dates(day, "%d%m%Y"),
                "HORANASC": _lpad(self.rng.integers(0, 24, n) * 100
                                  + self.rng.integers(0, 60, n), 4),
                "SEXO": pa.array(np.where(b["female"][rows], "2", "1")),
                "APGAR1": _lpad(b["apgar1"][rows], 2), "APGAR5": _lpad(b["apgar5"][rows], 2),
                "RACACOR": _blank_where(race_missing, pa.array(b["race"][rows])),
                "PESO": _lpad(b["weight"][rows], 4),
                "IDANOMAL": pa.array(np.where(b["anomaly"][rows], "1", "2")),
                "DTCADASTRO": _dates(received, "%d%m%Y"),
                "DTRECEBIM": _dates(received + 3, "%d%m%Y"),
                "DIFDATA": _lpad(np.minimum(received - day, 999), 3),
                "DTNASCMAE": _dates(ident.birth_day, "%d%m%Y"),
                "RACACORMAE": pa.array(self.p.race[mother]).cast(pa.string()),
                "SEMAGESTAC": _blank_where(weeks_missing, _lpad(weeks, 2)),
                "CONSPRENAT": pa.array(np.where(visits_missing, "99",
                                                np.char.zfill(visits.astype(str), 2))),
                "NUMERODN": numero, "NOMEMAE": ident.name, "NUMSUSMAE": ident.cns,
                "CPFMAE": ident.cpf, "ENDMAE": ident.address, "CEPMAE": ident.cep,
            })
            written = self._by_uf("SINASC", f"DN{{uf}}{year}", table,
                                  SINASC_DN + IDENTIFIED["SINASC"], year, muni)
            self._truths("SINASC", written, numero, "mae", mother, ident.flags)
            self._truths("SINASC", written, numero, "recem_nascido", b["baby"][rows], None)

    # ----------------------------------------------------------------- SIH
    def sih(self) -> None:
        h = self.ev.hospitalisations
        discharge = h["discharge"]
        months = (EPOCH + discharge.astype(np.int64)).astype("datetime64[M]")
        degraded = self.t.degraded[self.p.municipality[h["person"]]]
        late = np.where(degraded, self.rng.integers(0, 4, discharge.size), 0)
        last_month = np.datetime64(f"{self.years[-1]}-12", "M")
        competence = np.minimum(months + late.astype("timedelta64[M]"), last_month)
        seq = 0
        for month in np.unique(competence):
            rows = np.flatnonzero(competence == month)
            person = h["person"][rows]
            n = rows.size
            year = int(str(month)[:4])
            mm = str(month)[5:7]
            ident = self._render(person, fold=True)
            muni = self.p.municipality[person]
            facility = h["facility"][rows]
            admission, out = h["admission"][rows], discharge[rows]
            age_days = np.maximum(admission - self.p.birth[person], 0)
            age = np.maximum(completed_years(self.p.birth[person], admission), 0)
            diag = h["diagnosis"][rows]
            proc = h["procedure"][rows]
            obstetric = np.char.startswith(diag, "O")
            surgical = np.char.startswith(proc, "04")
            espec = np.where(obstetric, "02", np.where(surgical, "01", np.where(
                age < 14, "07", "03")))
            high = np.isin(diag, [a.cid for a in ADMISSIONS if a.high_complexity])
            # the AIH number begins with the code of the UF that issued it
            issuer = self.state_of[self.facility_muni[facility]]
            aih = pa.array([f"{issuer[i]}{year % 100:02d}1{seq + i + 1:08d}" for i in range(n)])
            seq += n
            race_missing = self._missing(muni, 0.05, 0.35)
            died = h["died"][rows]
            columns: dict[str, pa.Array] = {f.name: pa.nulls(n, pa.string()) for f in SIH_RD}
            columns.update({
                "UF_ZI": pa.array(np.char.add(issuer.astype(str), "0000")),
                "ANO_CMPT": pa.array([str(year)] * n),
                "MES_CMPT": pa.array([mm] * n), "ESPEC": pa.array(espec),
                "N_AIH": aih, "IDENT": pa.array(["1"] * n), "CEP": ident.cep,
                "MUNIC_RES": pa.array(self.codes6[muni]),
                "NASC": _dates(ident.birth_day, "%Y%m%d"),
                "SEXO": pa.array(np.where(self.p.female[person], "3", "1")),
                "QT_DIARIAS": pa.array(np.maximum(out - admission, 1)),
                "PROC_SOLIC": pa.array(proc), "PROC_REA": pa.array(proc),
                "VAL_TOT": pa.array(h["value"][rows]),
                "DT_INTER": _dates(admission, "%Y%m%d"), "DT_SAIDA": _dates(out, "%Y%m%d"),
                "DIAG_PRINC": pa.array(diag), "DIAG_SECUN": pa.array(["0000"] * n),
                "COBRANCA": pa.array(np.where(died, "41", "12")),
                "MUNIC_MOV": pa.array(self.codes6[self.facility_muni[facility]]),
                "COD_IDADE": pa.array(np.where(age_days < 30, "2", np.where(
                    age < 1, "3", "4"))),
                "IDADE": pa.array(np.where(age_days < 30, age_days, np.where(
                    age < 1, np.minimum(age_days // 30, 11), np.minimum(age, 99)))),
                "DIAS_PERM": pa.array(out - admission), "MORTE": pa.array(died.astype(int)),
                "NACIONAL": pa.array(["010"] * n),
                "CAR_INT": pa.array(np.where(h["elective"][rows], "01", "02")),
                "CNES": pa.array(self.cnes[facility]),
                "CID_MORTE": _blank_where(~died, pa.array(h["death_cause"][rows])),
                "COMPLEX": pa.array(np.where(high, "03", "02")),
                "FINANC": pa.array(np.where(high, "04", "06")),
                "RACA_COR": pa.array(np.where(race_missing, "99", np.char.zfill(
                    self.p.race[person].astype(str), 2))),
                "SEQUENCIA": pa.array(_rank_within(facility)),
                "VAL_SH": pa.array(np.round(h["value"][rows] * 0.7, 2)),
                "VAL_SP": pa.array(np.round(h["value"][rows] * 0.3, 2)),
                "NOME": ident.name, "NOME_MAE": ident.mother_name, "CNS_PAC": ident.cns,
                "CPF_PAC": ident.cpf, "LOGR": ident.address,
            })
            fields = SIH_RD + IDENTIFIED["SIH"]
            table = pa.table({f.name: columns[f.name] for f in fields})
            written = self._by_uf("SIH", f"RD{{uf}}{year % 100:02d}{mm}", table, fields, year,
                                  self.facility_muni[facility])
            self._truths("SIH", written, aih, "paciente", person, ident.flags)

    # ----------------------------------------------------------------- SIA
    def sia(self) -> None:
        t = self.t
        kinds = np.array([f.kind for f in t.facilities])
        served = np.zeros(len(t.facilities))
        for m, ubs in enumerate(t.ubs):
            served[ubs] = t.population[m] * self.scale_factor / ubs.size
        for m in range(t.population.size):
            h = t.hospital[m]
            if h >= 0:
                served[h] = t.population[m] * self.scale_factor * 2
        for year in self.years:
            for month in range(1, 13):
                pieces = []
                for proc, rate, kind in OUTPATIENT:
                    fac = np.flatnonzero(kinds == kind)
                    lam = served[fac] / 1000 * rate
                    for sex in ("M", "F"):
                        qty = self.rng.poisson(lam / 2)
                        ok = qty > 0
                        pieces.append((fac[ok], proc, sex, qty[ok]))
                fac = np.concatenate([p[0] for p in pieces])
                n = fac.size
                procs = np.concatenate([[p[1]] * p[0].size for p in pieces]).astype("U10")
                sexes = np.concatenate([[p[2]] * p[0].size for p in pieces]).astype("U1")
                qty = np.concatenate([p[3] for p in pieces])
                muni = self.facility_muni[fac]
                cmp_ = f"{year}{month:02d}"
                value = np.round(qty * np.where(np.char.startswith(procs, "03"), 10.0, 6.5), 2)
                table = pa.table({
                    "PA_CODUNI": pa.array(self.cnes[fac]), "PA_GESTAO": pa.array(self.codes6[muni]),
                    "PA_CONDIC": pa.array(["EP"] * n), "PA_UFMUN": pa.array(self.codes6[muni]),
                    "PA_TPUPS": pa.array(np.where(kinds[fac] == "ubs", "02", "05")),
                    "PA_TIPPRE": pa.array(["00"] * n), "PA_MN_IND": pa.array(["M"] * n),
                    "PA_CNPJCPF": pa.array(["0" * 14] * n), "PA_MVM": pa.array([cmp_] * n),
                    "PA_CMP": pa.array([cmp_] * n), "PA_PROC_ID": pa.array(procs),
                    "PA_TPFIN": pa.array(np.where(kinds[fac] == "ubs", "01", "06")),
                    "PA_NIVCPL": pa.array(["1"] * n), "PA_DOCORIG": pa.array(["C"] * n),
                    "PA_CBOCOD": pa.array(["225125"] * n), "PA_CIDPRI": pa.array(["0000"] * n),
                    "PA_CATEND": pa.array(["01"] * n), "PA_IDADE": pa.array(["999"] * n),
                    "IDADEMIN": pa.array(["000"] * n), "IDADEMAX": pa.array(["130"] * n),
                    "PA_SEXO": pa.array(sexes), "PA_RACACOR": pa.array(["99"] * n),
                    "PA_MUNPCN": pa.array(self.codes6[muni]), "PA_QTDPRO": pa.array(qty),
                    "PA_QTDAPR": pa.array(qty), "PA_VALPRO": pa.array(value),
                    "PA_VALAPR": pa.array(value),
                })
                self._by_uf("SIA", f"PA{{uf}}{year % 100:02d}{month:02d}", table, SIA_PA,
                            year, muni)

    scale_factor: float = 1.0

    # ---------------------------------------------------------------- CNES
    def cnes_files(self) -> None:
        t = self.t
        n = len(t.facilities)
        muni = self.facility_muni
        kinds = np.array([f.kind for f in t.facilities])
        beds = np.array([f.beds for f in t.facilities])
        region = np.array([m.region[Vintage.PDR_CURRENT] for m in t.municipalities])
        for year in self.years:
            table = pa.table({
                "CNES": pa.array(self.cnes), "CODUFMUN": pa.array(self.codes6[muni]),
                "COD_CEP": pa.array((t.cep_prefix[muni] * 1000).astype(str)),
                "CPF_CNPJ": pa.array(["0" * 14] * n), "PF_PJ": pa.array(["3"] * n),
                "NIV_DEP": pa.array(["3"] * n), "CNPJ_MAN": pa.array(["0" * 14] * n),
                "REGSAUDE": pa.array([str(r)[-4:] for r in region[muni]]),
                "VINC_SUS": pa.array(["1"] * n),
                "TPGESTAO": pa.array(np.where(kinds == "hospital", "E", "M")),
                "ESFERA_A": pa.array(["03"] * n),
                "NAT_JUR": pa.array(["1244"] * n),
                "TP_UNID": pa.array([f.unit_type for f in t.facilities]),
                "QTLEITP1": pa.array((beds * 0.6).astype(int)),
                "QTLEITP2": pa.array((beds * 0.3).astype(int)),
                "QTLEITP3": pa.array(beds - (beds * 0.6).astype(int) - (beds * 0.3).astype(int)),
                "LEITHOSP": pa.array(np.where(beds > 0, "1", "0")),
                "ATENDAMB": pa.array(["1"] * n),
                "ATENDHOS": pa.array(np.where(beds > 0, "1", "0")),
                "COMPETEN": pa.array([f"{year}12"] * n),
            })
            self._by_uf("CNES", f"ST{{uf}}{year % 100:02d}12", table, CNES_ST, year, muni)

    # ----------------------------------------------------------------- PNI
    def pni(self) -> None:
        v = self.ev.vaccinations
        muni_all = self.p.municipality[v["person"]]
        csv_rows = ~self.f.fhir_vaccination[muni_all]
        products = PRODUCTS
        for year in self.years:
            rows = np.flatnonzero(csv_rows & (v["day"] >= days(year)) & (v["day"] < days(year + 1)))
            rows = rows[np.argsort(v["day"][rows], kind="stable")]
            dup_pos = np.flatnonzero(self.rng.random(rows.size) < np.where(
                self.t.degraded[muni_all[rows]], 0.02, 0.004))
            dup = rows[dup_pos]
            all_rows = np.concatenate([rows, dup])
            n, n_orig = all_rows.size, rows.size
            person = v["person"][all_rows]
            ident = self._render(person, fold=False)
            muni = self.p.municipality[person]
            day = v["day"][all_rows]
            sched = v["product"][all_rows]
            ids = np.array([str(uuid.uuid5(NAMESPACE, f"pni-{year}-{i}")) for i in range(n)])
            patient_key = np.array([str(uuid.uuid5(NAMESPACE, f"pac-{c}")) if c else ""
                                    for c in pc.fill_null(ident.cns, "").to_pylist()])
            facility = v["facility"][all_rows]
            age = completed_years(self.p.birth[person], day)
            race_missing = self._missing(muni, 0.05, 0.35)
            table = pa.table({
                "id_documento": pa.array(ids), "co_paciente": pa.array(patient_key),
                "nu_cns_paciente": ident.cns, "nu_cpf_paciente": ident.cpf,
                "no_paciente": ident.name, "no_mae_paciente": ident.mother_name,
                "dt_vacina": _dates(day, "%Y-%m-%d"),
                "co_vacina": pa.array([products[k][0] for k in sched]),
                "sg_vacina": pa.array([products[k][1] for k in sched]),
                "co_dose_vacina": pa.array([products[k][3] for k in sched]),
                "ds_dose_vacina": pa.array([products[k][4] for k in sched]),
                "dt_nascimento_paciente": _dates(ident.birth_day, "%Y-%m-%d"),
                "nu_idade_paciente": pa.array(age),
                "tp_sexo_paciente": pa.array(np.where(self.p.female[person], "F", "M")),
                "co_raca_cor_paciente": pa.array(np.where(race_missing, "99", np.char.zfill(
                    self.p.race[person].astype(str), 2))),
                "co_municipio_paciente": _exported(self.codes6[muni], year),
                "co_municipio_estabelecimento": _exported(self.codes6[self.facility_muni[
                    facility]], year),
                "co_cnes_estabelecimento": _exported(self.cnes[facility], year),
            })
            order = np.argsort(np.concatenate([np.arange(n_orig), self.rng.integers(
                0, max(n_orig, 1), dup.size)]), kind="stable")
            table = table.take(pa.array(order))
            duplicate_of = pa.array(np.concatenate([np.full(n_orig, None, object),
                                                    ids[dup_pos]]))
            flags = {k: np.asarray(val)[order] for k, val in ident.flags.items()}
            dup_of = pc.take(duplicate_of.cast(pa.string()), pa.array(order))
            # one file per UF of the vaccinating facility, as the open data are published
            for acronym, rows_of_uf in self._uf_groups(self.facility_muni[facility[order]]):
                part = np.arange(n) if rows_of_uf is None else rows_of_uf
                path = self._path("PNI", f"vacinacao_{acronym}_{year}.csv")
                take = pa.array(part)
                pacsv.write_csv(table if rows_of_uf is None else table.take(take), path,
                                pacsv.WriteOptions(delimiter=";", quoting_style="needed"))
                self.truth.add("PNI", f"PNI/{path.name}", pa.array(ids[order][part]),
                               "vacinado", person[order][part],
                               {k: val[part] for k, val in flags.items()}, dup_of.take(take))

    # ---------------------------------------------------------------- FHIR
    def fhir(self) -> None:
        """Primary care (hypertension and diabetes follow-up, prenatal care) and the
        vaccination of municipalities that report to RNDS, as FHIR R4."""
        c, e, v = self.ev.chronic, self.ev.encounters, self.ev.vaccinations
        vacc_rows = np.flatnonzero(self.f.fhir_vaccination[self.p.municipality[v["person"]]])
        people = np.unique(np.concatenate([c["person"], v["person"][vacc_rows]]))
        if people.size == 0:
            return
        n = people.size
        # Patient resources: one per person, a second registration for some (duplicates)
        twice = self._registered_twice(self.rng, people)
        reg_person = np.concatenate([people, people[twice]])
        ident = self._render(reg_person, fold=False)
        order = self.rng.permutation(reg_person.size)
        patient_id = np.empty(reg_person.size, dtype=object)
        patient_id[order] = [f"pac-{k + 1:08d}" for k in range(reg_person.size)]
        self._patient_index = {str(pid): i for i, pid in enumerate(patient_id)}
        alt_of = np.full(n, -1, np.int64)
        alt_of[np.flatnonzero(twice)] = np.arange(n, reg_person.size)

        def registration(person: npt.NDArray[np.int64]) -> list[str]:
            first = np.searchsorted(people, person)
            alt = alt_of[first]
            use_alt = (alt >= 0) & (self.rng.random(person.size) < 0.5)
            return list(patient_id[np.where(use_alt, alt, first)])

        muni_of = self.p.municipality
        reg_muni = muni_of[reg_person]
        first_seen = np.full(self.p.size, np.iinfo(np.int32).max, np.int64)
        np.minimum.at(first_seen, e["person"], e["day"])
        c_pid, e_pid = registration(c["person"]), registration(e["person"])
        v_pid = registration(v["person"][vacc_rows])
        c_muni, e_muni = muni_of[c["person"]], muni_of[e["person"]]
        v_muni = muni_of[v["person"][vacc_rows]]
        # prenatal care, from its own stream (seeded from this one without consuming it):
        # pregnant women not yet registered get Patients of their own, after the others
        prenatal_rng = np.random.default_rng(
            [int(self.rng.bit_generator.state["state"]["state"]), 0x9E58])
        reg_person, patient_id, ident, g_pid, n_pid = self._prenatal_patients(
            prenatal_rng, people, alt_of, reg_person, patient_id, ident)
        reg_muni = muni_of[reg_person]
        g, n_ = self.ev.pregnancies, self.ev.prenatal
        g_rows = np.unique(n_["pregnancy"])     # pregnancies with a consultation here
        g_first = np.full(g["person"].size, np.iinfo(np.int32).max, np.int64)
        np.minimum.at(g_first, n_["pregnancy"], n_["day"])
        g_muni, n_muni = muni_of[g["person"]], muni_of[n_["person"]]
        # e-SUS APS codes the pregnancy in CIAP-2 (W78); some systems add the CID-10
        with_cid = prenatal_rng.random(g["person"].size) < 0.6
        # and the last menstrual period (DUM) is often left blank: the pregnancy is
        # registered without a gestational age (its own stream: the rest is unchanged)
        no_lmp = np.random.default_rng(
            [int(self.rng.bit_generator.state["state"]["state"]), 0x9E59]
        ).random(g["person"].size) < UNDATED_PREGNANCY
        handles: dict[str, object] = {}
        # municipalities in chunks bound the memory held by JSON text at full scale
        for chunk in np.array_split(np.arange(self.t.population.size), 16):
            inside = np.zeros(self.t.population.size, np.bool_)
            inside[chunk] = True
            resources: list[tuple[int, str, int, str, str]] = []  # muni, type, day, id, json
            # a condition travels with the person's first encounter of the window
            last_day = days(self.years[-1] + 1) - 1
            for flag, code in (("hypertension", "I10"), ("diabetes", "E119")):
                for i in np.flatnonzero(c[flag] & inside[c_muni]).tolist():
                    person = int(c["person"][i])
                    rid = f"cond-{i + 1:08d}-{code}"
                    day = int(min(first_seen[person], last_day))
                    resources.append((int(c_muni[i]), "Condition", day, rid,
                                      self._condition_json(rid, c_pid[i], code,
                                                           int(c["onset"][i]))))
            rows = np.flatnonzero(inside[e_muni])
            cnes = self.cnes[e["facility"][rows]].tolist()
            cols = [e[k][rows].tolist() for k in ("day", "hypertension", "systolic",
                                                  "diastolic", "hba1c")]
            for j, i in enumerate(rows.tolist()):
                day, ht, systolic, diastolic, hba1c = (col[j] for col in cols)
                pid, muni = e_pid[i], int(e_muni[i])
                eid = f"enc-{i + 1:09d}"
                resources.append((muni, "Encounter", day, eid, self._encounter_json(
                    eid, pid, cnes[j], "I10" if ht else "E119", day)))
                if ht:
                    oid = f"obs-{i + 1:09d}-pa"
                    resources.append((muni, "Observation", day, oid, self._bp_json(
                        oid, pid, eid, day, systolic, diastolic)))
                if hba1c == hba1c:  # not NaN
                    oid = f"obs-{i + 1:09d}-a1c"
                    resources.append((muni, "Observation", day, oid, self._a1c_json(
                        oid, pid, eid, day, hba1c)))
            for j in np.flatnonzero(inside[v_muni]).tolist():
                i = int(vacc_rows[j])
                rid = f"imu-{i + 1:09d}"
                day = int(v["day"][i])
                resources.append((int(v_muni[j]), "Immunization", day, rid,
                                  self._immunization_json(
                                      rid, v_pid[j], PRODUCTS[int(v["product"][i])],
                                      str(self.cnes[v["facility"][i]]), day)))
            for k in g_rows[inside[g_muni[g_rows]]].tolist():
                rid = f"gest-{k + 1:08d}"
                resources.append((int(g_muni[k]), "Condition", int(g_first[k]), rid,
                                  self._condition_json(
                                      rid, g_pid[k], "Z349" if with_cid[k] else "",
                                      None if no_lmp[k] else int(g["lmp"][k]),
                                      ciap2="W78")))
            rows = np.flatnonzero(inside[n_muni])
            cnes = self.cnes[n_["facility"][rows]].tolist()
            for j, i in enumerate(rows.tolist()):
                eid = f"enc-pn-{i + 1:09d}"
                day = int(n_["day"][i])
                resources.append((int(n_muni[i]), "Encounter", day, eid, self._encounter_json(
                    eid, n_pid[i], cnes[j], "Z349", day)))
            prow = np.flatnonzero(inside[reg_muni])
            patients = dict(zip(patient_id[prow].tolist(),
                                self._patients_json(prow, patient_id, reg_person, ident),
                                strict=True))
            self._write_ndjson(handles, patients, prow, patient_id, reg_muni, reg_person,
                               ident, resources)
            self._write_bundles(patients, patient_id, reg_person, ident, resources)
        for handle in handles.values():
            handle.close()  # type: ignore[attr-defined]

    def _registered_twice(self, rng: np.random.Generator, people: npt.NDArray[np.int64]
                          ) -> npt.NDArray[np.bool_]:
        """Who gets a second Patient registration (a duplicate), more often where the
        municipality's records are degraded."""
        twice: npt.NDArray[np.bool_] = rng.random(people.size) < np.where(
            self.t.degraded[self.p.municipality[people]], 0.08, 0.03)
        return twice

    def _prenatal_patients(self, rng: np.random.Generator, people: npt.NDArray[np.int64],
                           alt_of: npt.NDArray[np.int64], reg_person: npt.NDArray[np.int64],
                           patient_id: npt.NDArray[np.object_], ident: RecordIdentity
                           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_],
                                      RecordIdentity, list[str], list[str]]:
        """The registrations with the pregnant women's added (a second one for some, as
        for everyone), and the Patient id each pregnancy and each consultation names."""
        g, n_ = self.ev.pregnancies, self.ev.prenatal
        new = np.setdiff1d(np.unique(n_["person"]), people)
        twice = self._registered_twice(rng, new)
        added = np.concatenate([new, new[twice]])
        main_rng, self.rng = self.rng, rng
        try:
            extra = self._render(added, fold=False)
        finally:
            self.rng = main_rng
        base = reg_person.size
        ids = np.empty(added.size, dtype=object)
        ids[rng.permutation(added.size)] = [f"pac-{base + k + 1:08d}"
                                            for k in range(added.size)]
        reg_person = np.concatenate([reg_person, added])
        patient_id = np.concatenate([patient_id, ids])
        self._patient_index = {str(pid): i for i, pid in enumerate(patient_id)}
        ident = RecordIdentity(
            pa.concat_arrays([ident.name, extra.name]),
            pa.concat_arrays([ident.mother_name, extra.mother_name]),
            np.concatenate([ident.birth_day, extra.birth_day]),
            pa.concat_arrays([ident.cns, extra.cns]), pa.concat_arrays([ident.cpf, extra.cpf]),
            pa.concat_arrays([ident.cep, extra.cep]),
            pa.concat_arrays([ident.address, extra.address]),
            {k: np.concatenate([np.asarray(v), np.asarray(extra.flags[k])])
             for k, v in ident.flags.items()})
        # every registered person: their first registration and their second, if any
        owner = np.concatenate([people, new])
        main = np.concatenate([np.arange(people.size), base + np.arange(new.size)])
        alt = np.full(new.size, -1, np.int64)
        alt[np.flatnonzero(twice)] = base + new.size + np.arange(int(twice.sum()))
        second = np.concatenate([alt_of, alt])
        order = np.argsort(owner)
        owner, main, second = owner[order], main[order], second[order]

        def registration(person: npt.NDArray[np.int64]) -> list[str]:
            at = np.searchsorted(owner, person)
            use_alt = (second[at] >= 0) & (rng.random(person.size) < 0.5)
            return list(patient_id[np.where(use_alt, second[at], main[at])])

        pregnant = np.zeros(g["person"].size, np.bool_)
        pregnant[n_["pregnancy"]] = True
        g_pid = np.full(g["person"].size, "", dtype=object)
        g_pid[pregnant] = registration(g["person"][pregnant])
        return reg_person, patient_id, ident, list(g_pid), registration(n_["person"])

    def _patients_json(self, rows: npt.NDArray[np.intp], patient_id: npt.NDArray[np.object_],
                       reg_person: npt.NDArray[np.int64], ident: RecordIdentity) -> list[str]:
        take = pa.array(rows)
        cns, cpf = (pc.take(a, take).to_pylist() for a in (ident.cns, ident.cpf))
        name, mother = (pc.take(a, take).to_pylist() for a in (ident.name, ident.mother_name))
        address, cep = (pc.take(a, take).to_pylist() for a in (ident.address, ident.cep))
        person = reg_person[rows]
        gender = np.where(self.p.female[person], "female", "male").tolist()
        birth = (EPOCH + ident.birth_day[rows].astype(np.int64)).astype(
            "datetime64[D]").astype(str).tolist()
        city = self.codes7[self.p.municipality[person]].tolist()
        uf = self.uf_of[self.p.municipality[person]].tolist()
        out = []
        for i, pid in enumerate(patient_id[rows].tolist()):
            identifiers = []
            if cns[i]:
                identifiers.append('{"system":"' + CNS_SYSTEM + '","value":"' + cns[i] + '"}')
            if cpf[i]:
                identifiers.append('{"system":"' + CPF_SYSTEM + '","value":"' + cpf[i] + '"}')
            listed = ('"identifier":[' + ",".join(identifiers) + "],") if identifiers else ""
            out.append(
                '{"resourceType":"Patient","id":"' + pid + '",' + listed
                + '"name":[{"use":"official","text":"' + name[i]
                + '"}],"gender":"' + gender[i] + '","birthDate":"' + birth[i]
                + '","address":[{"use":"home","line":["' + address[i] + '"],"city":"'
                + city[i] + '","state":"' + uf[i] + '","postalCode":"' + cep[i]
                + '","country":"BRA"}],"extension":[{"url":"' + MOTHER_EXT
                + '","valueString":"' + mother[i] + '"}]}')
        return out

    @staticmethod
    def _day(day: int) -> str:
        return _iso_day(day)

    def _condition_json(self, rid: str, pid: str, code: str, onset: int | None,
                        ciap2: str | None = None) -> str:
        """A Condition in the problem list coded ``code`` (CID-10; empty: none), with a
        CIAP-2 coding first when given (as e-SUS APS codes problems); no onset when
        ``onset`` is None."""
        codings = ([f'{{"system":"{CIAP2_SYSTEM}","code":"{ciap2}"}}'] if ciap2 else []) + (
            ['{"system":"' + CID10_SYSTEM + '","code":"' + code + '"}'] if code else [])
        return ('{"resourceType":"Condition","id":"' + rid + '","clinicalStatus":{"coding":'
                '[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical",'
                '"code":"active"}]},"category":[{"coding":[{"system":'
                '"http://terminology.hl7.org/CodeSystem/condition-category",'
                '"code":"problem-list-item"}]}],"code":{"coding":[' + ",".join(codings)
                + ']},"subject":{"reference":"Patient/' + pid + '"}'
                + ("" if onset is None else ',"onsetDateTime":"' + self._day(onset) + '"')
                + "}")

    def _encounter_json(self, rid: str, pid: str, cnes: str, reason: str, day: int) -> str:
        date = self._day(day)
        return ('{"resourceType":"Encounter","id":"' + rid + '","status":"finished",'
                '"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode",'
                '"code":"AMB"},"subject":{"reference":"Patient/' + pid + '"},'
                '"period":{"start":"' + date + '","end":"' + date + '"},'
                '"reasonCode":[{"coding":[{"system":"' + CID10_SYSTEM + '","code":"' + reason
                + '"}]}],"serviceProvider":{"identifier":{"system":"' + CNES_SYSTEM
                + '","value":"' + cnes + '"}}}')

    def _bp_json(self, rid: str, pid: str, eid: str, day: int, sys_: int, dia: int) -> str:
        def component(code: str, value: int) -> str:
            return ('{"code":{"coding":[{"system":"' + LOINC + '","code":"' + code + '"}]},'
                    '"valueQuantity":{"value":' + str(value) + ',"unit":"mm[Hg]","system":"'
                    + UCUM + '","code":"mm[Hg]"}}')
        return ('{"resourceType":"Observation","id":"' + rid + '","status":"final",'
                '"category":[{"coding":[{"system":'
                '"http://terminology.hl7.org/CodeSystem/observation-category",'
                '"code":"vital-signs"}]}],"code":{"coding":[{"system":"' + LOINC
                + '","code":"85354-9"}]},"subject":{"reference":"Patient/' + pid + '"},'
                '"encounter":{"reference":"Encounter/' + eid + '"},"effectiveDateTime":"'
                + self._day(day) + '","component":[' + component("8480-6", sys_) + ","
                + component("8462-4", dia) + "]}")

    def _a1c_json(self, rid: str, pid: str, eid: str, day: int, value: float) -> str:
        return ('{"resourceType":"Observation","id":"' + rid + '","status":"final",'
                '"category":[{"coding":[{"system":'
                '"http://terminology.hl7.org/CodeSystem/observation-category",'
                '"code":"laboratory"}]}],"code":{"coding":[{"system":"' + LOINC
                + '","code":"4548-4"}]},"subject":{"reference":"Patient/' + pid + '"},'
                '"encounter":{"reference":"Encounter/' + eid + '"},"effectiveDateTime":"'
                + self._day(day) + '","valueQuantity":{"value":' + f"{value:.1f}"
                + ',"unit":"%","system":"' + UCUM + '","code":"%"}}')

    def _immunization_json(self, rid: str, pid: str, sched: tuple[str, str, str, str, str],
                           cnes: str, day: int) -> str:
        return ('{"resourceType":"Immunization","id":"' + rid + '","status":"completed",'
                '"vaccineCode":{"coding":[{"system":"' + VACCINE_SYSTEM + '","code":"'
                + sched[0] + '","display":"' + sched[2] + '"}]},"patient":{"reference":'
                '"Patient/' + pid + '"},"occurrenceDateTime":"' + self._day(day) + '",'
                '"performer":[{"actor":{"identifier":{"system":"' + CNES_SYSTEM
                + '","value":"' + cnes + '"}}}],"protocolApplied":[{"doseNumberString":"'
                + sched[4] + '"}]}')

    def _write_ndjson(self, handles: dict[str, object], patients: dict[str, str],
                      prow: npt.NDArray[np.intp], patient_id: npt.NDArray[np.object_],
                      reg_muni: npt.NDArray[np.int16], reg_person: npt.NDArray[np.int64],
                      ident: RecordIdentity, resources: list[tuple[int, str, int, str, str]]
                      ) -> None:
        bundled = self.f.fhir_bundles

        def handle(name: str) -> object:
            if name not in handles:
                handles[name] = self._path("FHIR/ndjson", f"{name}.ndjson").open(
                    "w", encoding="utf-8")
            return handles[name]

        keep = prow[~bundled[reg_muni[prow]]]
        keep = keep[np.argsort(patient_id[keep].astype(str))]
        out = handle("Patient")
        out.write("".join(patients[pid] + "\n" for pid in patient_id[keep]))  # type: ignore[attr-defined]
        self.truth.add("FHIR", "FHIR/ndjson/Patient.ndjson",
                       pa.array(patient_id[keep].astype(str)), "paciente", reg_person[keep],
                       {k: np.asarray(v)[keep] for k, v in ident.flags.items()})
        by_type: dict[str, list[tuple[int, str, str]]] = {}
        for muni, rtype, day, rid, text in resources:
            if bundled[muni]:
                continue
            name = rtype if rtype == "Condition" else f"{rtype}.{self._day(day)[:4]}"
            by_type.setdefault(name, []).append((day, rid, text))
        for name in sorted(by_type):
            items = sorted(by_type[name])
            handle(name).write("".join(t + "\n" for _, _, t in items))  # type: ignore[attr-defined]

    def _write_bundles(self, patients: dict[str, str], patient_id: npt.NDArray[np.object_],
                       reg_person: npt.NDArray[np.int64], ident: RecordIdentity,
                       resources: list[tuple[int, str, int, str, str]]) -> None:
        bundled = self.f.fhir_bundles
        index = self._patient_index
        groups: dict[tuple[int, str], list[tuple[str, str, str]]] = {}
        for muni, rtype, day, rid, text in resources:
            if not bundled[muni]:
                continue
            groups.setdefault((muni, self._day(day)[:7]), []).append((rtype, rid, text))
        for (muni, month), items in sorted(groups.items()):
            urls: dict[str, str] = {}
            entries: list[str] = []
            needed = sorted({t.split('"reference":"Patient/', 1)[1].split('"', 1)[0]
                             for _, _, t in items})
            for pid in needed:
                urls[f"Patient/{pid}"] = f"urn:uuid:{uuid.uuid5(NAMESPACE, pid)}"
            for rtype, rid, _ in items:
                urls[f"{rtype}/{rid}"] = f"urn:uuid:{uuid.uuid5(NAMESPACE, rid)}"
            for pid in needed:
                entries.append(self._entry(urls[f"Patient/{pid}"], patients[pid],
                                           "Patient", urls))
            for rtype, rid, text in items:
                entries.append(self._entry(urls[f"{rtype}/{rid}"], text, rtype, urls))
            bundle_id = str(uuid.uuid5(NAMESPACE, f"bundle-{muni}-{month}"))
            body = ('{"resourceType":"Bundle","id":"' + bundle_id + '","type":"transaction",'
                    '"timestamp":"' + month + '-28T12:00:00-03:00","entry":['
                    + ",".join(entries) + "]}")
            code = self.codes7[muni]
            path = self._path(f"FHIR/bundles/{code}", f"{month}.json")
            path.write_text(body, encoding="utf-8")
            rows = np.array([index[pid] for pid in needed], dtype=np.intp)
            self.truth.add("FHIR", f"FHIR/bundles/{code}/{path.name}",
                           pa.array(patient_id[rows].astype(str)), "paciente",
                           reg_person[rows],
                           {k: np.asarray(v)[rows] for k, v in ident.flags.items()})

    @staticmethod
    def _entry(full_url: str, text: str, rtype: str, urls: dict[str, str]) -> str:
        for ref in ("Patient/", "Encounter/"):
            start = text.find(f'"reference":"{ref}')
            while start >= 0:
                begin = start + len('"reference":"')
                end = text.index('"', begin)
                key = text[begin:end]
                if key in urls:
                    text = text[:begin] + urls[key] + text[end:]
                start = text.find(f'"reference":"{ref}', begin)
        return ('{"fullUrl":"' + full_url + '","resource":' + text + ',"request":{"method":'
                '"POST","url":"' + rtype + '"}}')

    # ----------------------------------------------------------- consortia
    def consortia(self) -> None:
        r = self.ev.referrals
        if not r:
            return
        t = self.t
        cons = t.consortium[r["muni"]]
        policlinica = {f.municipality: i for i, f in enumerate(t.facilities)
                       if f.kind == "policlinica"}
        seats = {}
        for k in range(len(t.consortia)):
            members = np.flatnonzero(t.consortium == k)
            if members.size:
                seat = int(members[np.argmax(t.population[members])])
                seats[k] = policlinica.get(seat, -1)
        end = days(self.years[-1] + 1)
        for k, (sigla, _) in enumerate(t.consortia):
            for year in self.years:
                rows = np.flatnonzero((cons == k) & (r["requested"] >= days(year))
                                      & (r["requested"] < days(year + 1)))
                if rows.size == 0:
                    continue
                rows = rows[np.argsort(r["requested"][rows], kind="stable")]
                n = rows.size
                person = r["person"][rows]
                ident = self._render(person, fold=True)
                service = r["service"][rows]
                requested = r["requested"][rows]
                wait = r["wait"][rows]
                done_day = requested + wait
                scheduled_day = requested + np.maximum(1, (wait * 0.6).astype(int))
                cancelled = r["cancelled"][rows]
                cancel_day = requested + (self.rng.random(n) * wait).astype(int)
                cancelled &= cancel_day < end
                status = np.where(cancelled, "cancelado", np.where(
                    done_day < end, "realizado", np.where(scheduled_day < end, "agendado",
                                                          "solicitado")))
                kind = np.array([REFERRAL_SERVICES[s][0] for s in service])
                surgery_hub = t.hospital[t.region_hub[r["muni"][rows]]]
                provider = np.where(np.isin(kind, ["cirurgia", "oncologia"]), surgery_hub,
                                    seats.get(k, -1))
                onc = kind == "oncologia"
                ids = pa.array([f"{sigla}-{year}-{i + 1:06d}" for i in range(n)])
                blank = pa.scalar(None, pa.string())
                table = pa.table({
                    "id_solicitacao": ids, "consorcio": pa.array([sigla] * n),
                    "municipio_solicitante": pa.array(self.codes7[r["muni"][rows]]),
                    "cnes_prestador": _blank_where(provider < 0, pa.array(
                        self.cnes[np.maximum(provider, 0)])),
                    "cns_paciente": ident.cns, "cpf_paciente": ident.cpf,
                    "nome_paciente": ident.name, "nome_mae": ident.mother_name,
                    "data_nascimento": _dates(ident.birth_day, "%d/%m/%Y"),
                    "sexo": pa.array(np.where(self.p.female[person], "F", "M")),
                    "tipo_servico": pa.array(kind),
                    "especialidade": pa.array([REFERRAL_SERVICES[s][1] for s in service]),
                    "procedimento_sigtap": pa.array([REFERRAL_SERVICES[s][2] for s in service]),
                    "data_solicitacao": _dates(requested, "%d/%m/%Y"),
                    "data_agendamento": pc.if_else(pa.array(
                        (status == "solicitado") | cancelled), blank,
                        _dates(scheduled_day, "%d/%m/%Y")),
                    "data_realizacao": pc.if_else(pa.array(status != "realizado"), blank,
                                                  _dates(done_day, "%d/%m/%Y")),
                    "situacao": pa.array(status),
                    "data_cancelamento": pc.if_else(pa.array(~cancelled), blank,
                                                    _dates(cancel_day, "%d/%m/%Y")),
                    "data_diagnostico": pc.if_else(pa.array(~onc), blank,
                                                   _dates(r["diagnosed"][rows], "%d/%m/%Y")),
                    "cid10": pa.array(np.where(onc, "C509", "")),
                    "passageiros": pa.array(np.where(kind == "transporte",
                                                     1 + self.rng.binomial(1, 0.6, n), 0)),
                })
                path = self._path("CONSORCIOS", f"{sigla}_{year}.csv")
                pacsv.write_csv(table, path, pacsv.WriteOptions(delimiter=";",
                                                                quoting_style="needed"))
                self.truth.add("CONSORCIO", f"CONSORCIOS/{path.name}", ids, "paciente",
                               person, ident.flags)

    # --------------------------------------------------------------- truth
    def write_truth(self, people_table: pa.Table) -> None:
        folder = self.out / "verdade"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.truth.table(), folder / "registros.parquet")
        pq.write_table(people_table, folder / "pessoas.parquet")
        self.files += ["verdade/registros.parquet", "verdade/pessoas.parquet"]
        t, f = self.t, self.f
        municipalities = pa.table({
            "cod_ibge7": pa.array(self.codes7), "nome": pa.array(
                [m.name for m in t.municipalities]),
            "populacao_base": pa.array(t.population), "privacao": pa.array(
                np.round(t.deprivation, 4)),
            "qualidade_degradada": pa.array(t.degraded),
            "envia_vacinacao_fhir": pa.array(f.fhir_vaccination),
            "envia_bundles_fhir": pa.array(f.fhir_bundles),
            **{f"fator_{name}": pa.array(np.round(getattr(f, name), 4)) for name in (
                "birth", "mortality", "infant", "hospital", "icsap", "vaccine", "prenatal",
                "caesarean", "followup", "wait")},
        })
        pacsv.write_csv(municipalities, folder / "municipios.csv")
        self.files.append("verdade/municipios.csv")
        # events that happened but were never registered (coverage of SIM and SINASC)
        b, d = self.ev.births, self.ev.deaths
        missed = pa.table({
            "evento": pa.array(["nascimento"] * int((~b["registered"]).sum())
                               + ["obito"] * int((~d["registered"]).sum())),
            "person_id": pa.array(np.concatenate([b["baby"][~b["registered"]],
                                                  d["person"][~d["registered"]]])),
            "data": pa.array((EPOCH + np.concatenate([b["day"][~b["registered"]],
                                                      d["day"][~d["registered"]]]
                                                     ).astype(np.int64)).astype(
                "datetime64[D]")),
            "cod_ibge7": pa.array(self.codes7[np.concatenate([
                b["muni"][~b["registered"]], self.p.municipality[d["person"][~d["registered"]]]
            ])]),
        })
        pq.write_table(missed, folder / "eventos_nao_registrados.parquet")
        self.files.append("verdade/eventos_nao_registrados.parquet")

    def population(self) -> None:
        """Mid-year (1 July) resident population of each simulated year by municipality, sex
        and five-year age group, in the reference pack's ``populacao_sexo_faixa5.csv``
        layout: the denominators for indicators computed on this synthetic state."""
        p = self.p
        groups = len(AGE_GROUPS)
        columns: dict[str, list[object]] = {"cod_ibge7": [], "ano": [], "sexo": []}
        counts: list[npt.NDArray[np.int64]] = []
        for year in self.years:
            mid = days(year, 7, 1)
            alive = (p.birth <= mid) & (p.death > mid)
            age = completed_years(p.birth[alive], mid)
            group = np.minimum(age // 5, groups - 1)
            sex = p.female[alive].astype(np.int64)  # 0 male, 1 female
            cell = (p.municipality[alive].astype(np.int64) * 2 + sex) * groups + group
            table = np.bincount(cell, minlength=len(self.codes7) * 2 * groups).reshape(
                len(self.codes7), 2, groups)
            for sex_code in (1, 2):
                columns["cod_ibge7"] += list(self.codes7)
                columns["ano"] += [year] * len(self.codes7)
                columns["sexo"] += [sex_code] * len(self.codes7)
                counts.append(table[:, sex_code - 1, :])
        matrix = np.concatenate(counts)
        data = {name: pa.array(values) for name, values in columns.items()}
        for k, name in enumerate(AGE_GROUPS):
            data[f"pop_{name}"] = pa.array(matrix[:, k])
        data["pop_total"] = pa.array(matrix.sum(axis=1))
        pacsv.write_csv(pa.table(data), self.out / "populacao.csv",
                        pacsv.WriteOptions(quoting_style="none"))
        self.files.append("populacao.csv")


def _rank_within(groups: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """1, 2, 3… within each group, in row order (the AIH sequence of each hospital)."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    run = np.arange(groups.size) - np.repeat(starts, np.diff(np.r_[starts, groups.size]))
    ranks = np.empty(groups.size, np.int64)
    ranks[order] = run + 1
    return ranks


@functools.cache
def _iso_day(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                    encoding="utf-8")
