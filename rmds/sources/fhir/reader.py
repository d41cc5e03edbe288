"""Read FHIR R4 files (Bundle JSON, bulk NDJSON) into canonical rows and quarantine.

A Bundle must be of type ``collection``, ``transaction`` or ``batch``; references between
its entries (``urn:uuid:…`` full URLs or ``Type/id``) are resolved inside the bundle, and a
reference to ``urn:uuid:`` that no entry carries quarantines the resource that holds it.
NDJSON holds one resource per line, as in the FHIR bulk data format; references are
``Type/id`` and are resolved later, across files, by the ids they carry. An invalid
resource is quarantined (row = line or entry number, field = FHIR path, reason), the rest
lands. ``rows in = accepted + quarantined`` holds per file. A CNS or CPF with a wrong check
digit quarantines that identifier only: the resource is accepted without it (its
quarantine row says so), so the person and the records that point to them stay.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from rmds.codes.vaccines import dose_code, vaccine
from rmds.exceptions import FileFormatError, Problem, UnknownSourceError
from rmds.schema import table
from rmds.sources.fhir.residence import municipality_of
from rmds.sources.fhir.validate import (
    CIAP2_SYSTEMS,
    CID10_SYSTEMS,
    CNES_SYSTEMS,
    CNS_SYSTEMS,
    CPF_SYSTEMS,
    SIGTAP_SYSTEMS,
    VACCINE_SYSTEMS,
    FhirProblem,
    Validator,
)
from rmds.sources.mapping import QUARANTINE_SCHEMA

__all__ = ["Chunk", "FhirFile", "detect_fhir", "instant_utc",
           "open_fhir"]

BUNDLE_TYPES = frozenset({"collection", "transaction", "batch"})
MOTHER_EXTENSIONS = frozenset({
    "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"})
GENDER = {"male": "M", "female": "F", "other": "I", "unknown": "I"}
SERVICE_STATUS = {"active": "solicitado", "draft": "solicitado", "on-hold": "solicitado",
                  "completed": "realizado", "revoked": "cancelado",
                  "entered-in-error": None, "unknown": None}
# an Appointment brings the scheduling of the ServiceRequest it is based on
# (a cancelled or missed appointment leaves the request waiting: it does not cancel it)
APPOINTMENT_STATUS = {"proposed": "agendado", "pending": "agendado", "booked": "agendado",
                      "arrived": "agendado", "checked-in": "agendado", "waitlist": "solicitado",
                      "fulfilled": "realizado", "cancelled": "solicitado",
                      "noshow": "solicitado", "entered-in-error": None}
TABLE_OF = {"Patient": "identity_records", "Encounter": "encounters",
            "Condition": "conditions", "Observation": "observations",
            "Procedure": "procedures", "Immunization": "immunisations",
            "ServiceRequest": "referrals", "Appointment": "referrals",
            "Organization": "organizations",
            "Location": "organizations"}


def detect_fhir(path: Path) -> str | None:
    """``"ndjson"`` or ``"bundle"`` for FHIR files, by name and first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".ndjson":
        return "ndjson"
    if suffix == ".json":  # the bundle reader says what is wrong with one that is not
        return "bundle"
    return None


@dataclass
class Chunk:
    """Canonical rows of part of a file, with its quarantine."""

    rows_in: int
    tables: dict[str, pa.Table]
    quarantine: pa.Table
    rows_quarantined: int


@dataclass
class _Rows:
    columns: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def add(self, name: str, row: dict[str, Any]) -> None:
        target = self.columns.get(name)
        if target is None:
            target = self.columns[name] = {c.name: [] for c in table(name).columns}
        for key, values in target.items():
            values.append(row.get(key))


def instant_utc(value: Any) -> str | None:
    """A FHIR instant (``meta.lastUpdated``) in UTC, as text that sorts in time order
    (``2024-01-05T13:00:00.000000Z``); None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _ref_id(ref: Any, resolve: dict[str, str] | None) -> str | None:
    if not isinstance(ref, dict):
        return None
    target = ref.get("reference")
    if isinstance(target, str):
        if resolve is not None and target in resolve:
            return resolve[target]
        return target.rsplit("/", 1)[-1]
    ident = ref.get("identifier")
    if isinstance(ident, dict) and ident.get("value"):
        return f"{str(ident.get('system', '')).rsplit('/', 1)[-1]}:{ident['value']}"
    return None


def _first_code(concept: Any, systems: frozenset[str] | None = None) -> str | None:
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and (systems is None or coding.get("system") in systems):
            code = coding.get("code")
            return str(code).replace(".", "") if code is not None else None
    return None


def _cnes(reference: Any) -> str | None:
    if isinstance(reference, dict):
        ident = reference.get("identifier")
        if isinstance(ident, dict) and ident.get("system") in CNES_SYSTEMS:
            return str(ident.get("value"))
    return None


def _ndjson_entries(first: int, lines: list[bytes]
                    ) -> Iterator[tuple[int, Any, dict[str, str] | None, str | None]]:
    """(line number, resource, None, parse problem) for NDJSON lines numbered from
    ``first``; blank lines are no resource."""
    for line_no, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield line_no, None, None, f"JSON inválido: {error}"
            continue
        yield line_no, resource, None, None


class FhirFile:
    """A FHIR file opened for ingestion."""

    def __init__(self, path: Path, kind: str, validator: Validator,
                 municipalities: dict[str, str], chunk_resources: int = 20_000) -> None:
        self.path, self.kind, self.validator = path, kind, validator
        self.municipalities = municipalities
        self.chunk_resources = chunk_resources
        self.layout = f"FHIR-R4-{kind}"

    # ---------------------------------------------------------------- iteration
    def _entries(self) -> Iterator[tuple[int, Any, dict[str, str] | None, str | None]]:
        """(row, resource, in-bundle resolution map, parse problem)."""
        if self.kind == "ndjson":
            for first, lines in self.blocks():
                yield from _ndjson_entries(first, lines)
            return
        try:
            bundle = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError as error:
            raise FileFormatError(f"{self.path.name}: não é JSON válido ({error})", [
                Problem(self.path.name, None, None, f"JSON inválido: {error}")]) from None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            found = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle)
            raise UnknownSourceError(f"{self.path.name}: esperado um Bundle FHIR, encontrado "
                                  f"{found!r}", [Problem(self.path.name, None,
                                                         "resourceType", "não é Bundle")])
        if bundle.get("type") not in BUNDLE_TYPES:
            raise FileFormatError(
                f"{self.path.name}: Bundle do tipo {bundle.get('type')!r} não é aceito "
                f"(aceitos: {', '.join(sorted(BUNDLE_TYPES))})",
                [Problem(self.path.name, None, "Bundle.type", "tipo não aceito")])
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise FileFormatError(f"{self.path.name}: Bundle.entry deve ser uma lista", [
                Problem(self.path.name, None, "Bundle.entry", "não é lista")])
        resolve: dict[str, str] = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                res = entry["resource"]
                rid = res.get("id")
                url = entry.get("fullUrl")
                key = rid if isinstance(rid, str) else (
                    url.rsplit(":", 1)[-1] if isinstance(url, str) else None)
                if isinstance(url, str) and key:
                    resolve[url] = key
                if isinstance(rid, str) and isinstance(res.get("resourceType"), str):
                    resolve[f"{res['resourceType']}/{rid}"] = rid
        for index, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                yield index, None, resolve, "entrada sem recurso"
                continue
            yield index, entry["resource"], resolve, None

    def blocks(self) -> Iterator[tuple[int, list[bytes]]]:
        """An NDJSON file as blocks of ``chunk_resources`` lines: (number of the first
        line, the lines). Each block converts on its own (:meth:`convert_block`), so blocks
        can be converted in parallel. A file whose first line is not JSON is no NDJSON."""
        with self.path.open("rb") as handle:
            first_line = handle.readline()
            if first_line.strip():
                try:
                    orjson.loads(first_line)
                except orjson.JSONDecodeError as error:
                    raise FileFormatError(
                        f"{self.path.name}: não é NDJSON (linha 1: {error})",
                        [Problem(self.path.name, 1, None, "JSON inválido")]) from None
            start, lines = 1, [first_line]
            for line in handle:
                lines.append(line)
                if len(lines) >= self.chunk_resources:
                    yield start, lines
                    start, lines = start + len(lines), []
            if lines and any(line.strip() for line in lines):
                yield start, lines

    def convert_block(self, first: int, lines: list[bytes]) -> Chunk:
        """Canonical rows and quarantine of one block of NDJSON lines."""
        return next(self._chunks(_ndjson_entries(first, lines), whole=True), None) or Chunk(
            0, {}, QUARANTINE_SCHEMA.empty_table(), 0)

    def chunks(self) -> Iterator[Chunk]:
        return self._chunks(self._entries())

    def _chunks(self, entries: Iterator[tuple[int, Any, dict[str, str] | None, str | None]],
                whole: bool = False) -> Iterator[Chunk]:
        """Chunks of ``chunk_resources`` resources (one chunk of all when ``whole``)."""
        rows = _Rows()
        quarantine: dict[str, list[Any]] = {f.name: [] for f in QUARANTINE_SCHEMA}
        bad_rows: set[int] = set()
        count = 0
        for row, resource, resolve, parse_problem in entries:
            count += 1
            problems = ([FhirProblem("(linha)", parse_problem)] if parse_problem
                        else self.validator.check(resource))
            if not problems and resolve is not None:
                problems = self._unresolved(resource, resolve)
            fatal = not all(p.field_only for p in problems)
            if problems:
                if fatal:
                    bad_rows.add(row)
                else:  # bad identifiers only: drop them, keep the resource
                    resource = _without_identifiers(resource, problems)
                rid = resource.get("id") if isinstance(resource, dict) else None
                for problem in problems:
                    quarantine["source_file"].append(self.path.name)
                    quarantine["source_row"].append(row)
                    quarantine["source_system"].append("FHIR")
                    quarantine["field"].append(problem.path)
                    quarantine["value"].append(str(rid) if rid is not None else None)
                    quarantine["reason"].append(problem.reason)
            if not fatal:
                self._map(resource, row, resolve, rows)
            if count >= self.chunk_resources and not whole:
                yield self._chunk(count, rows, quarantine, bad_rows)
                rows, count, bad_rows = _Rows(), 0, set()
                quarantine = {f.name: [] for f in QUARANTINE_SCHEMA}
        if count:
            yield self._chunk(count, rows, quarantine, bad_rows)

    @staticmethod
    def _unresolved(resource: dict[str, Any], resolve: dict[str, str]) -> list[FhirProblem]:
        problems = []
        for element in ("subject", "patient", "encounter"):
            ref = resource.get(element)
            target = ref.get("reference") if isinstance(ref, dict) else None
            if isinstance(target, str) and target.startswith("urn:") and target not in resolve:
                problems.append(FhirProblem(f"{resource['resourceType']}.{element}.reference",
                                            f"referência não resolvida no bundle: {target}"))
        return problems

    def _chunk(self, count: int, rows: _Rows, quarantine: dict[str, list[Any]],
               bad_rows: set[int]) -> Chunk:
        tables = {}
        for name, columns in rows.columns.items():
            schema = table(name).schema
            arrays = []
            for f in schema:
                values = columns[f.name]
                if pa.types.is_date32(f.type):
                    arrays.append(pa.array(values, pa.string()).cast(pa.date32()))
                else:
                    arrays.append(pa.array(values, f.type))
            tables[name] = pa.Table.from_arrays(arrays, schema=schema)
        return Chunk(count, tables, pa.table(quarantine, schema=QUARANTINE_SCHEMA),
                     len(bad_rows))

    # ------------------------------------------------------------------ mapping
    def _map(self, res: dict[str, Any], row: int, resolve: dict[str, str] | None,
             rows: _Rows) -> None:
        rtype = res["resourceType"]
        rid = res.get("id")
        meta = res.get("meta")
        base = {"source_file": self.path.name, "source_row": row, "source_system": "FHIR",
                "layout": self.layout,
                "fhir_resource": f"{rtype}/{rid}" if isinstance(rid, str) and rid else None,
                "last_updated": instant_utc(meta.get("lastUpdated")
                                            if isinstance(meta, dict) else None)}
        if rtype == "Patient":
            rows.add("identity_records", {**base, **self._patient(res)})
        elif rtype == "Encounter":
            period = res.get("period") or {}
            rows.add("encounters", {
                **base, "encounter_id": rid, "patient_key": _ref_id(res.get("subject"), resolve),
                "encounter_date": _day(period.get("start")),
                "encounter_class": (res.get("class") or {}).get("code"),
                "status": res.get("status"),
                "reason_code": _first_code(res.get("reasonCode"), CID10_SYSTEMS),
                "facility_cnes": _cnes(res.get("serviceProvider"))})
        elif rtype == "Condition":
            rows.add("conditions", {
                **base, "condition_id": rid, "patient_key": _ref_id(res.get("subject"), resolve),
                "code": _first_code(res.get("code"), CID10_SYSTEMS),
                "ciap2_code": _first_code(res.get("code"), CIAP2_SYSTEMS),
                "onset_date": _day(res.get("onsetDateTime")),
                "clinical_status": _first_code(res.get("clinicalStatus"))})
        elif rtype == "Observation":
            common = {**base, "observation_id": rid,
                      "patient_key": _ref_id(res.get("subject"), resolve),
                      "encounter_id": _ref_id(res.get("encounter"), resolve),
                      "effective_date": _day(res.get("effectiveDateTime")),
                      "code": _first_code(res.get("code"))}
            parts = res.get("component") or [res]
            for part in parts:
                quantity = part.get("valueQuantity") or {}
                value = quantity.get("value")
                rows.add("observations", {
                    **common, "component_code": _first_code(part.get("code")),
                    "value": float(value) if isinstance(value, (int, float)) else None,
                    "unit": quantity.get("code") or quantity.get("unit")})
        elif rtype == "Procedure":
            rows.add("procedures", {
                **base, "procedure_id": rid, "patient_key": _ref_id(res.get("subject"), resolve),
                "code": _first_code(res.get("code"), SIGTAP_SYSTEMS),
                "performed_date": _day(res.get("performedDateTime")),
                "status": res.get("status"),
                "facility_cnes": _cnes((res.get("performer") or [{}])[0].get("actor"))})
        elif rtype == "Immunization":
            code = _first_code(res.get("vaccineCode"), VACCINE_SYSTEMS)
            known = vaccine(code) if code else None
            applied = (res.get("protocolApplied") or [{}])[0]
            dose = applied.get("doseNumberString") or applied.get("doseNumberPositiveInt")
            rows.add("immunisations", {
                **base, "record_id": rid, "patient_key": _ref_id(res.get("patient"), resolve),
                "vaccination_date": _day(res.get("occurrenceDateTime")),
                "vaccine_code": known.code if known else code,
                "vaccine_acronym": known.acronym if known else None,
                "dose": str(dose) if dose is not None else None,
                "dose_code": dose_code(dose),
                "facility_cnes": _cnes((res.get("performer") or [{}])[0].get("actor"))})
        elif rtype == "ServiceRequest":
            rows.add("referrals", {
                **base, "referral_id": rid, "patient_key": _ref_id(res.get("subject"), resolve),
                "procedure": _first_code(res.get("code"), SIGTAP_SYSTEMS),
                "service_type": _first_code(res.get("category")),
                "requested_date": _day(res.get("authoredOn")),
                "performed_date": _day(res.get("occurrenceDateTime")),
                "status": SERVICE_STATUS.get(str(res.get("status"))),
                "diagnosis": _first_code(res.get("reasonCode"), CID10_SYSTEMS),
                "provider_cnes": _cnes((res.get("performer") or [{}])[0])})
        elif rtype == "Appointment":
            based = res.get("basedOn") or []
            patient = next((p.get("actor") for p in res.get("participant") or ()
                            if isinstance(p, dict) and isinstance(p.get("actor"), dict)
                            and str(p["actor"].get("reference", "")).startswith(
                                ("Patient/", "urn:uuid:"))), None)
            status = APPOINTMENT_STATUS.get(str(res.get("status")))
            start = _day(res.get("start")) if status in ("agendado", "realizado") else None
            rows.add("referrals", {
                **base, "referral_id": (_ref_id(based[0], resolve) if based else None) or rid,
                "patient_key": _ref_id(patient, resolve),
                "scheduled_date": start,
                "performed_date": start if status == "realizado" else None,
                "status": status})
        else:  # Organization, Location
            cnes = next((i.get("value") for i in res.get("identifier") or ()
                         if isinstance(i, dict) and i.get("system") in CNES_SYSTEMS), None)
            address = res.get("address")
            address = address[0] if isinstance(address, list) and address else address
            city = address.get("city") if isinstance(address, dict) else None
            rows.add("organizations", {
                **base, "resource_type": rtype, "resource_id": rid, "cnes": cnes,
                "name": res.get("name"), "municipality": self._municipality(city)})

    def _municipality(self, city: Any) -> str | None:
        return municipality_of(city, self.municipalities)

    def _patient(self, res: dict[str, Any]) -> dict[str, Any]:
        cns = cpf = None
        for ident in res.get("identifier") or ():
            system = ident.get("system")
            if system in CNS_SYSTEMS and cns is None:
                cns = ident.get("value")
            elif system in CPF_SYSTEMS and cpf is None:
                cpf = ident.get("value")
        names = res.get("name") or [{}]
        name = names[0].get("text") or " ".join(
            [*(names[0].get("given") or []), names[0].get("family") or ""]).strip() or None
        mother = next((e.get("valueString") for e in res.get("extension") or ()
                       if isinstance(e, dict) and e.get("url") in MOTHER_EXTENSIONS), None)
        address = (res.get("address") or [{}])[0]
        line = " ".join(address.get("line") or []) or None
        return {"record_key": res.get("id"), "role": "paciente", "name": name,
                "mother_name": mother, "birth_date": res.get("birthDate") if len(
                    str(res.get("birthDate") or "")) == 10 else None,
                "sex": GENDER.get(str(res.get("gender"))), "cns": cns, "cpf": cpf,
                "residence_municipality": self._municipality(address.get("city")),
                "cep": address.get("postalCode"), "address": line}


def open_fhir(path: Path, validator: Validator, municipalities: dict[str, str]) -> FhirFile:
    kind = detect_fhir(path)
    if kind is None:
        raise UnknownSourceError(f"{path.name}: não é um arquivo FHIR (.json com Bundle ou "
                              ".ndjson)", [Problem(path.name, None, None, "formato")])
    return FhirFile(path, kind, validator, municipalities)


_IDENTIFIER_INDEX = re.compile(r"^\w+\.identifier\[(\d+)\]")


def _without_identifiers(resource: dict[str, Any], problems: list[FhirProblem]
                         ) -> dict[str, Any]:
    """A copy of ``resource`` without the identifiers that ``problems`` quarantine."""
    drop = {int(m.group(1)) for p in problems
            if (m := _IDENTIFIER_INDEX.match(p.path)) is not None}
    kept = [ident for i, ident in enumerate(resource.get("identifier") or ())
            if i not in drop]
    copy = dict(resource)
    if kept:
        copy["identifier"] = kept
    else:
        copy.pop("identifier", None)
    return copy
