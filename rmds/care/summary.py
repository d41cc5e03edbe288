"""A care record as a FHIR R4 document Bundle in the shape of the International Patient
Summary (IPS): a Composition (LOINC 60591-5) with the IPS sections, the Patient with the
Brazilian identifiers in the RNDS naming systems, and one resource per timeline item.

Each resource says where it came from in ``meta.source``: ``urn:rmds:lote:<batch_id>``
followed by the source system and file (``#SIH/RDMG2301.dbc``), so that every item of the
summary traces back to the batch that loaded it (``rmds batches``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import orjson

from rmds.care.record import CareItem, CareRecord
from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
from rmds.codes.vaccines import vaccine
from rmds.territory.model import UFS

__all__ = ["CNS_SYSTEM", "CPF_SYSTEM", "KEPT_STAMP", "patient_summary", "source_of",
           "summary_json"]

CNS_SYSTEM = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns"
CPF_SYSTEM = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf"
CNES_SYSTEM = "http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes"
CID10 = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRCID10"
SIGTAP = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRTabelaSUS"
VACCINES = "http://www.saude.gov.br/fhir/r4/CodeSystem/BRImunobiologico"
LOINC = "http://loinc.org"
EMPTY = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
_NS = uuid.UUID("6f1c1d0e-5b1a-4d8e-9a44-2a6a1f0b7c24")

#: IPS sections: key → (LOINC code, title); the first three are required by IPS
SECTIONS = {
    "problemas": ("11450-4", "Problemas e diagnósticos"),
    "alergias": ("48765-2", "Alergias e intolerâncias"),
    "medicamentos": ("10160-0", "Medicamentos em uso"),
    "vacinas": ("11369-6", "Imunizações"),
    "resultados": ("30954-2", "Resultados e observações"),
    "procedimentos": ("47519-4", "Procedimentos"),
    "atendimentos": ("46240-8", "Atendimentos e internações"),
}


def source_of(item: CareItem) -> str:
    """``meta.source`` of a resource made from ``item``: its batch, system and file."""
    return f"urn:rmds:lote:{item.batch_id}#{_quoted(item.source_system, item.source_file)}"


@functools.lru_cache(maxsize=4096)
def _quoted(system: str, file: str) -> str:
    return f"{quote(system)}/{quote(file)}"


def uuid5(name: str) -> str:
    """``str(uuid.uuid5(_NS, name))``, written out (RFC 4122 §4.3: SHA-1 of the namespace
    and the name, version 5, variant RFC 4122) without building a ``UUID`` object: the
    Bundle names every resource by one, hundreds per record."""
    digest = bytearray(hashlib.sha1(_NS.bytes + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _url(kind: str, *parts: object) -> str:
    return "urn:uuid:" + uuid5("|".join(map(str, (kind, *parts))))


def _concept(system: str, code: str | None, text: str) -> dict[str, Any]:
    if code:
        return {"coding": [{"system": system, "code": code}], "text": text}
    return {"text": text}


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _patient(record: CareRecord) -> dict[str, Any]:
    ids = record.identifications
    identifiers = [{"system": CNS_SYSTEM, "value": v} for v in sorted(
        {i.cns for i in ids if i.cns and is_valid_cns(i.cns)})]
    identifiers += [{"system": CPF_SYSTEM, "value": v} for v in sorted(
        {i.cpf for i in ids if i.cpf and is_valid_cpf(i.cpf)})]
    names = Counter(i.name for i in ids if i.name)
    births = Counter(i.birth_date for i in ids if i.birth_date)
    sexes = Counter(i.sex for i in ids if i.sex)
    patient: dict[str, Any] = {"resourceType": "Patient", "id": f"pessoa-{record.person_id}"}
    if identifiers:
        patient["identifier"] = identifiers
    if names:
        patient["name"] = [{"text": names.most_common(1)[0][0]}]
    if sexes:
        patient["gender"] = {"M": "male", "F": "female"}.get(sexes.most_common(1)[0][0],
                                                             "unknown")
    if births:
        patient["birthDate"] = births.most_common(1)[0][0].isoformat()
    deaths = [i for i in record.items("obito") if i.date]
    if deaths:
        patient["deceasedDateTime"] = deaths[0].date.isoformat()  # type: ignore[union-attr]
    if record.residence_municipality:
        uf = UFS.get(record.residence_municipality[:2], ("MG", ""))[0]  # the code's UF
        patient["address"] = [{"use": "home",
                               "district": record.residence_municipality, "state": uf}]
    return patient


def _resource(item: CareItem, subject: str) -> tuple[str, dict[str, Any]] | None:
    """(section, resource) for a timeline item; ``None`` for items IPS has no place for."""
    meta = {"source": source_of(item)}
    d = item.details
    day = _day(item.date)
    if item.kind == "condicao":
        r: dict[str, Any] = {"resourceType": "Condition", "meta": meta,
                             "code": _concept(CID10, item.code, item.description),
                             "subject": {"reference": subject}}
        if day:
            r["onsetDateTime"] = day
        return "problemas", r
    if item.kind == "vacina":
        known = item.code is not None and vaccine(item.code) is not None
        r = {"resourceType": "Immunization", "meta": meta, "status": "completed",
             "vaccineCode": _concept(VACCINES, item.code if known else None,
                                     item.description),
             "patient": {"reference": subject}, "occurrenceString": day or "desconhecida"}
        if day:
            r.pop("occurrenceString")
            r["occurrenceDateTime"] = day
        if d.get("dose"):
            r["protocolApplied"] = [{"doseNumberString": str(d["dose"])}]
        return "vacinas", r
    if item.kind == "observacao":
        r = {"resourceType": "Observation", "meta": meta, "status": "final",
             "code": _concept(LOINC, item.code, item.description),
             "subject": {"reference": subject}}
        if day:
            r["effectiveDateTime"] = day
        if d.get("value") is not None:
            r["valueQuantity"] = {"value": float(d["value"]), "unit": d.get("unit") or "1"}
        return "resultados", r
    if item.kind == "procedimento":
        r = {"resourceType": "Procedure", "meta": meta, "status": "completed",
             "code": _concept(SIGTAP, item.code, item.description),
             "subject": {"reference": subject}}
        if day:
            r["performedDateTime"] = day
        return "procedimentos", r
    if item.kind in ("atendimento", "internacao"):
        hospital = item.kind == "internacao"
        r = {"resourceType": "Encounter", "meta": meta,
             "status": "finished" if hospital or d.get("status") in (None, "finished")
             else "unknown",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                       "code": "IMP" if hospital else str(d.get("encounter_class") or "AMB")},
             "subject": {"reference": subject}}
        if item.code:
            r["reasonCode"] = [_concept(CID10, item.code, item.description)]
        if day:
            end = _day(d.get("discharge_date")) if hospital else None
            r["period"] = {"start": day, **({"end": end} if end and end >= day else {})}
        if hospital and d.get("length_of_stay") is not None:
            r["length"] = {"value": int(d["length_of_stay"]), "unit": "d",
                           "system": "http://unitsofmeasure.org", "code": "d"}
        if item.facility_cnes:
            r["serviceProvider"] = {"identifier": {"system": CNES_SYSTEM,
                                                   "value": item.facility_cnes}}
        return "atendimentos", r
    return None


#: the time a summary kept whole is written with, replaced by the time it is served at
#: (the NULs keep it from ever being a value the sources recorded)
KEPT_STAMP = "\x00rmds-agora\x00"


def _stamp(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def summary_json(record: CareRecord, kept: bytes | None = None, *,
                 now: dt.datetime | None = None) -> bytes:
    """:func:`patient_summary` as JSON; from ``kept``, the summary written at
    :data:`KEPT_STAMP` when the record was kept whole, with only the time put in."""
    if kept is None:
        return orjson.dumps(patient_summary(record, now=now))
    stamp = _stamp(now)
    # the time is in the head only (the Bundle's timestamp and identifier, the
    # Composition's date), before the Composition's sections: the rest is not searched
    cut = kept.index(b',"section":')
    return (kept[:cut].replace(orjson.dumps(KEPT_STAMP), orjson.dumps(stamp))
            .replace(_url("Bundle", record.person_id, KEPT_STAMP).encode(),
                     _url("Bundle", record.person_id, stamp).encode()) + kept[cut:])


def patient_summary(record: CareRecord, *, now: dt.datetime | str | None = None
                    ) -> dict[str, Any]:
    """The IPS document Bundle of ``record`` (``now`` a time, or the text to write as it)."""
    stamp = now if isinstance(now, str) else _stamp(now)
    patient = _patient(record)
    subject = _url("Patient", record.person_id)
    author_url = _url("Organization", "rmds")
    author = {"resourceType": "Organization", "id": "rmds-ses-mg",
              "name": "Rede Mineira de Dados em Saúde — SES-MG"}
    entries: list[dict[str, Any]] = []
    sections: dict[str, list[dict[str, str]]] = {k: [] for k in SECTIONS}
    for n, item in enumerate(record.timeline):
        made = _resource(item, subject)
        if made is None:
            continue
        section, resource = made
        url = _url(resource["resourceType"], record.person_id, n, item.batch_id)
        resource["id"] = url.rsplit(":", 1)[1]
        entries.append({"fullUrl": url, "resource": resource})
        sections[section].append({"reference": url})
    composition = {
        "resourceType": "Composition", "id": str(uuid.uuid5(_NS, f"ips|{record.person_id}")),
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "60591-5",
                             "display": "Patient summary Document"}]},
        "subject": {"reference": subject}, "date": stamp,
        "author": [{"reference": author_url}],
        "title": f"Resumo do paciente — pessoa nº {record.person_id}",
        "section": [{"title": title,
                     "code": {"coding": [{"system": LOINC, "code": code}]},
                     **({"entry": sections[key]} if sections[key] else
                        {"emptyReason": {"coding": [{"system": EMPTY,
                                                     "code": "unavailable"}]}})}
                    for key, (code, title) in SECTIONS.items()]}
    return {"resourceType": "Bundle", "type": "document", "timestamp": stamp,
            "identifier": {"system": "urn:ietf:rfc:3986",
                           "value": _url("Bundle", record.person_id, stamp)},
            "entry": [{"fullUrl": _url("Composition", record.person_id),
                       "resource": composition},
                      {"fullUrl": subject, "resource": patient},
                      {"fullUrl": author_url, "resource": author}, *entries]}
