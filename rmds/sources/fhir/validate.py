"""Validation of FHIR R4 resources: structure, cardinality and the code systems that matter.

Each supported resource type declares its allowed elements, the required ones (R4
cardinality 1..1 or 1..*), which are lists (0..* / 1..*), and the type of the primitive
ones. Codings and identifiers in the systems rmds depends on are checked against the
reference pack: CNS and CPF by their official check digits, CID-10, SIGTAP procedures and
vaccine codes. A problem is reported with a FHIR-path-style location
(``Patient.identifier[0].value``) and a reason in Portuguese.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
from rmds.codes.vaccines import vaccine
from rmds.territory import ReferencePack

__all__ = ["CID10_SYSTEMS", "CNES_SYSTEMS", "CNS_SYSTEMS", "CPF_SYSTEMS", "RESOURCE_TYPES",
           "SIGTAP_SYSTEMS", "VACCINE_SYSTEMS", "FhirProblem", "Validator"]

CNS_SYSTEMS = frozenset({"http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns",
                         "https://saude.gov.br/fhir/sid/cns"})
CPF_SYSTEMS = frozenset({"http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf",
                         "https://saude.gov.br/fhir/sid/cpf"})
CNES_SYSTEMS = frozenset({"http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes"})
CID10_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRCID10",
                           "http://hl7.org/fhir/sid/icd-10"})
SIGTAP_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRTabelaSUS"})
VACCINE_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRImunobiologico"})

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# the R4 regular expressions of date and dateTime (ASCII digits only, matched whole)
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_DATE = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
_DATETIME = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
                       r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
                       r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?")
_COMMON = ("resourceType", "id", "meta", "implicitRules", "language", "text", "contained",
           "extension", "modifierExtension")
_COMMON_LISTS = frozenset({"contained", "extension", "modifierExtension"})


@dataclass(frozen=True)
class Spec:
    elements: frozenset[str]
    required: tuple[str, ...]
    lists: frozenset[str]
    primitives: dict[str, str]  # element → date, dateTime, code, string, boolean
    codes: dict[str, frozenset[str]]  # element → allowed codes (required bindings)


def _spec(elements: str, required: str = "", lists: str = "",
          primitives: dict[str, str] | None = None,
          codes: dict[str, frozenset[str]] | None = None) -> Spec:
    return Spec(frozenset(_COMMON + tuple(elements.split())), tuple(required.split()),
                frozenset(lists.split()) | _COMMON_LISTS, primitives or {}, codes or {})


_EVENT_STATUS = frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped",
                           "completed", "entered-in-error", "unknown"})
RESOURCE_TYPES: dict[str, Spec] = {
    "Patient": _spec(
        "identifier active name telecom gender birthDate deceasedBoolean deceasedDateTime "
        "address maritalStatus multipleBirthBoolean multipleBirthInteger photo contact "
        "communication generalPractitioner managingOrganization link",
        lists="identifier name telecom address photo contact communication "
              "generalPractitioner link",
        primitives={"birthDate": "date", "gender": "code", "active": "boolean"},
        codes={"gender": frozenset({"male", "female", "other", "unknown"})}),
    "Encounter": _spec(
        "identifier status statusHistory class classHistory type serviceType priority "
        "subject episodeOfCare basedOn participant appointment period length reasonCode "
        "reasonReference diagnosis account hospitalization location serviceProvider partOf",
        required="status class",
        lists="identifier statusHistory classHistory type episodeOfCare basedOn participant "
              "appointment reasonCode reasonReference diagnosis account location",
        primitives={"status": "code"},
        codes={"status": frozenset({"planned", "arrived", "triaged", "in-progress", "onleave",
                                    "finished", "cancelled", "entered-in-error",
                                    "unknown"})}),
    "Condition": _spec(
        "identifier clinicalStatus verificationStatus category severity code bodySite "
        "subject encounter onsetDateTime onsetAge onsetPeriod onsetRange onsetString "
        "abatementDateTime abatementAge abatementPeriod abatementRange abatementString "
        "recordedDate recorder asserter stage evidence note",
        required="subject", lists="identifier category bodySite stage evidence note",
        primitives={"onsetDateTime": "dateTime", "recordedDate": "dateTime"}),
    "Observation": _spec(
        "identifier basedOn partOf status category code subject focus encounter "
        "effectiveDateTime effectivePeriod effectiveTiming effectiveInstant issued performer "
        "valueQuantity valueCodeableConcept valueString valueBoolean valueInteger valueRange "
        "valueRatio valueSampledData valueTime valueDateTime valuePeriod dataAbsentReason "
        "interpretation note bodySite method specimen device referenceRange hasMember "
        "derivedFrom component",
        required="status code",
        lists="identifier basedOn partOf category focus performer interpretation note "
              "referenceRange hasMember derivedFrom component",
        primitives={"status": "code", "effectiveDateTime": "dateTime"},
        codes={"status": frozenset({"registered", "preliminary", "final", "amended",
                                    "corrected", "cancelled", "entered-in-error",
                                    "unknown"})}),
    "Procedure": _spec(
        "identifier instantiatesCanonical instantiatesUri basedOn partOf status statusReason "
        "category code subject encounter performedDateTime performedPeriod performedString "
        "performedAge performedRange recorder asserter performer location reasonCode "
        "reasonReference bodySite outcome report complication complicationDetail followUp "
        "note focalDevice usedReference usedCode",
        required="status subject",
        lists="identifier instantiatesCanonical instantiatesUri basedOn partOf performer "
              "reasonCode reasonReference bodySite report complication complicationDetail "
              "followUp note focalDevice usedReference usedCode",
        primitives={"status": "code", "performedDateTime": "dateTime"},
        codes={"status": _EVENT_STATUS}),
    "Immunization": _spec(
        "identifier status statusReason vaccineCode patient encounter occurrenceDateTime "
        "occurrenceString recorded primarySource reportOrigin location manufacturer "
        "lotNumber expirationDate site route doseQuantity performer note reasonCode "
        "reasonReference isSubpotent subpotentReason education programEligibility "
        "fundingSource reaction protocolApplied",
        required="status vaccineCode patient",
        lists="identifier performer note reasonCode reasonReference subpotentReason "
              "education programEligibility reaction protocolApplied",
        primitives={"status": "code", "occurrenceDateTime": "dateTime"},
        codes={"status": frozenset({"completed", "entered-in-error", "not-done"})}),
    "ServiceRequest": _spec(
        "identifier instantiatesCanonical instantiatesUri basedOn replaces requisition "
        "status intent category priority doNotPerform code orderDetail quantityQuantity "
        "quantityRatio quantityRange subject encounter occurrenceDateTime occurrencePeriod "
        "occurrenceTiming asNeededBoolean asNeededCodeableConcept authoredOn requester "
        "performerType performer locationCode locationReference reasonCode reasonReference "
        "insurance supportingInfo specimen bodySite note patientInstruction relevantHistory",
        required="status intent subject",
        lists="identifier instantiatesCanonical instantiatesUri basedOn replaces category "
              "orderDetail performer locationCode locationReference reasonCode "
              "reasonReference insurance supportingInfo specimen bodySite note "
              "relevantHistory",
        primitives={"status": "code", "intent": "code", "authoredOn": "dateTime",
                    "occurrenceDateTime": "dateTime"},
        codes={"status": frozenset({"draft", "active", "on-hold", "revoked", "completed",
                                    "entered-in-error", "unknown"}),
               "intent": frozenset({"proposal", "plan", "directive", "order",
                                    "original-order", "reflex-order", "filler-order",
                                    "instance-order", "option"})}),
    "Appointment": _spec(
        "identifier status cancelationReason serviceCategory serviceType specialty "
        "appointmentType reasonCode reasonReference priority description "
        "supportingInformation start end minutesDuration slot created comment "
        "patientInstruction basedOn participant requestedPeriod",
        required="status participant",
        lists="identifier serviceCategory serviceType specialty reasonCode reasonReference "
              "supportingInformation slot basedOn participant requestedPeriod",
        primitives={"status": "code", "start": "dateTime", "end": "dateTime",
                    "created": "dateTime"},
        codes={"status": frozenset({"proposed", "pending", "booked", "arrived", "fulfilled",
                                    "cancelled", "noshow", "entered-in-error", "checked-in",
                                    "waitlist"})}),
    "Organization": _spec(
        "identifier active type name alias telecom address partOf contact endpoint",
        lists="identifier type alias telecom address contact endpoint",
        primitives={"name": "string", "active": "boolean"}),
    "Location": _spec(
        "identifier status operationalStatus name alias description mode type telecom "
        "address physicalType position managingOrganization partOf hoursOfOperation "
        "availabilityExceptions endpoint",
        lists="identifier alias type telecom hoursOfOperation endpoint",
        primitives={"name": "string", "status": "code"}),
}

def _calendar_date(value: Any, pattern: re.Pattern[str]) -> bool:
    """The value has the R4 form and, when it has a day, the day exists (the regular
    expression alone takes 1980-02-30)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return False
    if len(value) >= 10:
        try:
            dt.date.fromisoformat(value[:10])
        except ValueError:
            return False
    return True


_PRIMITIVE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "date": lambda v: _calendar_date(v, _DATE),
    "dateTime": lambda v: _calendar_date(v, _DATETIME),
    "code": lambda v: isinstance(v, str) and v.strip() == v and v != "",
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
}


@dataclass(frozen=True)
class FhirProblem:
    path: str
    reason: str


class Validator:
    """Checks resources against the declared R4 rules and the pack's code systems."""

    def __init__(self, pack: ReferencePack) -> None:
        self.cid10 = pack.cid10
        self.sigtap = pack.sigtap.procedures

    def check(self, resource: Any) -> list[FhirProblem]:
        if not isinstance(resource, dict):
            return [FhirProblem("(recurso)", "não é um objeto JSON")]
        rtype = resource.get("resourceType")
        spec = RESOURCE_TYPES.get(rtype) if isinstance(rtype, str) else None
        if spec is None or not isinstance(rtype, str):
            return [FhirProblem("resourceType", f"tipo de recurso não suportado: {rtype!r} "
                                f"(aceitos: {', '.join(RESOURCE_TYPES)})")]
        problems: list[FhirProblem] = []
        rid = resource.get("id")
        if rid is not None and not (isinstance(rid, str) and _ID.match(rid)):
            problems.append(FhirProblem(f"{rtype}.id", "id inválido"))
        for key, value in resource.items():
            if key not in spec.elements:
                problems.append(FhirProblem(f"{rtype}.{key}", "elemento desconhecido em R4"))
            elif key in spec.lists:
                if not isinstance(value, list) or not value:
                    problems.append(FhirProblem(f"{rtype}.{key}",
                                                "deve ser uma lista não vazia (0..*)"))
            elif isinstance(value, list):
                problems.append(FhirProblem(f"{rtype}.{key}", "cardinalidade máxima 1, "
                                            "recebida uma lista"))
            kind = spec.primitives.get(key)
            if kind and not _PRIMITIVE_CHECKS[kind](value):
                problems.append(FhirProblem(f"{rtype}.{key}", f"valor {kind} inválido: "
                                            f"{value!r}"))
            allowed = spec.codes.get(key)
            if allowed and isinstance(value, str) and value not in allowed:
                problems.append(FhirProblem(f"{rtype}.{key}", f"código fora do conjunto "
                                            f"obrigatório: {value!r}"))
        for key in spec.required:
            if key not in resource or resource[key] in (None, "", [], {}):
                problems.append(FhirProblem(f"{rtype}.{key}", "elemento obrigatório ausente "
                                            "(cardinalidade mínima 1)"))
        if problems:
            return problems
        self._identifiers(rtype, resource, problems)
        self._codings(rtype, resource, problems)
        self._references(rtype, resource, problems)
        return problems

    def _identifiers(self, rtype: str, resource: dict[str, Any],
                     problems: list[FhirProblem]) -> None:
        for i, ident in enumerate(resource.get("identifier") or ()):
            path = f"{rtype}.identifier[{i}]"
            if not isinstance(ident, dict):
                problems.append(FhirProblem(path, "identificador deve ser um objeto"))
                continue
            system, value = ident.get("system"), ident.get("value")
            if not isinstance(value, str) or not value:
                problems.append(FhirProblem(f"{path}.value", "valor ausente"))
            elif system in CNS_SYSTEMS and not is_valid_cns(value):
                problems.append(FhirProblem(f"{path}.value", "CNS inválido (dígito "
                                            "verificador)"))
            elif system in CPF_SYSTEMS and not is_valid_cpf(value):
                problems.append(FhirProblem(f"{path}.value", "CPF inválido (dígito "
                                            "verificador)"))
            elif system in CNES_SYSTEMS and not (value.isdigit() and len(value) == 7):
                problems.append(FhirProblem(f"{path}.value", "CNES deve ter 7 dígitos"))

    def _codings(self, rtype: str, resource: dict[str, Any],
                 problems: list[FhirProblem]) -> None:
        for element in ("code", "vaccineCode", "reasonCode"):
            value = resource.get(element)
            concepts = value if isinstance(value, list) else [value] if value else []
            for k, concept in enumerate(concepts):
                base = f"{rtype}.{element}" + (f"[{k}]" if isinstance(value, list) else "")
                codings = concept.get("coding") if isinstance(concept, dict) else None
                if codings is None:
                    if not (isinstance(concept, dict) and concept.get("text")):
                        problems.append(FhirProblem(base, "CodeableConcept sem coding nem "
                                                    "text"))
                    continue
                if not isinstance(codings, list):
                    problems.append(FhirProblem(f"{base}.coding", "deve ser uma lista"))
                    continue
                for j, coding in enumerate(codings):
                    self._coding(f"{base}.coding[{j}]", coding, problems)

    def _coding(self, path: str, coding: Any, problems: list[FhirProblem]) -> None:
        if not isinstance(coding, dict):
            problems.append(FhirProblem(path, "coding deve ser um objeto"))
            return
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(code, str) or not code:
            problems.append(FhirProblem(f"{path}.code", "código ausente"))
        elif system in CID10_SYSTEMS and self.cid10.get(code) is None:
            problems.append(FhirProblem(f"{path}.code", f"CID-10 desconhecido: {code}"))
        elif system in SIGTAP_SYSTEMS and code not in self.sigtap:
            problems.append(FhirProblem(f"{path}.code", f"procedimento SIGTAP desconhecido: "
                                        f"{code}"))
        elif system in VACCINE_SYSTEMS and vaccine(code) is None:
            problems.append(FhirProblem(f"{path}.code", f"imunobiológico desconhecido: "
                                        f"{code}"))

    @staticmethod
    def _references(rtype: str, resource: dict[str, Any],
                    problems: list[FhirProblem]) -> None:
        for element in ("subject", "patient", "encounter"):
            ref = resource.get(element)
            if ref is None:
                continue
            if not isinstance(ref, dict) or not (ref.get("reference") or ref.get(
                    "identifier")):
                problems.append(FhirProblem(f"{rtype}.{element}", "referência sem "
                                            "'reference' nem 'identifier'"))
            elif "reference" in ref and not isinstance(ref["reference"], str):
                problems.append(FhirProblem(f"{rtype}.{element}.reference",
                                            "deve ser texto"))
