"""Validation of FHIR R4 resources: structure, cardinality and the code systems that matter.

Each supported resource type declares its allowed elements, the required ones (R4
cardinality 1..1 or 1..*), which are lists (0..* / 1..*), and the type of the primitive
ones. Codings and identifiers in the systems rmds depends on are checked against the
reference pack: CNS and CPF by their official check digits, CID-10, SIGTAP procedures and
vaccine codes. A problem is reported with a FHIR-path-style location
(``Patient.identifier[0].value``) and a reason in Portuguese.

Why this module is long: the R4 declarations of every supported resource and datatype are
data, kept beside the one walker that checks them, and the document check (a Bundle of
type ``document``, issue 24) reuses that walker rather than a second copy of it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rmds.codes.identifiers import is_valid_cns, is_valid_cpf
from rmds.codes.vaccines import vaccine
from rmds.territory import ReferencePack

__all__ = ["CID10_SYSTEMS", "CNES_SYSTEMS", "CNS_SYSTEMS", "CPF_SYSTEMS", "DATATYPES",
           "DOCUMENT_TYPES",
           "PRIMITIVES", "RESOURCE_TYPES", "SIGTAP_SYSTEMS", "VACCINE_SYSTEMS", "Element",
           "FhirProblem", "Spec", "Validator"]

CNS_SYSTEMS = frozenset({"http://rnds.saude.gov.br/fhir/r4/NamingSystem/cns",
                         "https://saude.gov.br/fhir/sid/cns"})
CPF_SYSTEMS = frozenset({"http://rnds.saude.gov.br/fhir/r4/NamingSystem/cpf",
                         "https://saude.gov.br/fhir/sid/cpf"})
CNES_SYSTEMS = frozenset({"http://rnds.saude.gov.br/fhir/r4/NamingSystem/cnes"})
CID10_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRCID10",
                           "http://hl7.org/fhir/sid/icd-10"})
SIGTAP_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRTabelaSUS"})
VACCINE_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRImunobiologico"})
#: CIAP-2 (Classificação Internacional de Atenção Primária), as e-SUS APS records problems
CIAP2_SYSTEMS = frozenset({"http://www.saude.gov.br/fhir/r4/CodeSystem/BRCIAP2"})

# the R4 regular expressions of the primitive types (ASCII only, matched whole)
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_DATE = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
_DATETIME = re.compile(_YEAR + r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])"
                       r"(T" + _CLOCK + _ZONE + r")?)?)?")
_INSTANT = re.compile(_YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T" + _CLOCK
                      + _ZONE)
_TIME = re.compile(_CLOCK)
_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_URI = re.compile(r"\S+")


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


def _integer(value: Any, low: int) -> bool:
    return type(value) is int and low <= value <= 2**31 - 1


def _matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


_TEXT = lambda v: isinstance(v, str) and v != ""  # noqa: E731
PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: _integer(v, -2**31),
    "positiveInt": lambda v: _integer(v, 1),
    "unsignedInt": lambda v: _integer(v, 0),
    "decimal": lambda v: type(v) in (int, float) and math.isfinite(v),
    "string": _TEXT, "markdown": _TEXT, "xhtml": _TEXT, "base64Binary": _TEXT,
    "code": _matches(_CODE), "id": _matches(_ID),
    "uri": _matches(_URI), "url": _matches(_URI), "canonical": _matches(_URI),
    "date": lambda v: _calendar_date(v, _DATE),
    "dateTime": lambda v: _calendar_date(v, _DATETIME),
    "instant": lambda v: _calendar_date(v, _INSTANT),
    "time": _matches(_TIME),
}
# values of these types may be shown in a reason; text ones may be names or addresses
_SHOWN = frozenset({"boolean", "integer", "positiveInt", "unsignedInt", "decimal", "code",
                    "id", "date", "dateTime", "instant", "time"})


class Element:
    """An element of a resource or datatype: its type and whether it repeats."""

    __slots__ = ("allowed", "check", "flat", "many", "spec", "type")

    def __init__(self, kind: str, many: bool) -> None:
        self.type = kind    # a primitive (PRIMITIVES), a datatype (DATATYPES), or opaque
        self.many = many    # 0..* (a non-empty JSON array) rather than 0..1
        self.check: Callable[[Any], bool] | None = PRIMITIVES.get(kind)
        self.spec: Spec | None = None  # the datatype's declaration, linked once all exist
        self.allowed: frozenset[str] | None = None  # a required binding's codes
        self.flat = False  # a datatype of primitives only (valid values cached by content)


@dataclass(frozen=True)
class Spec:
    elements: dict[str, Element]
    required: tuple[str, ...]
    codes: dict[str, frozenset[str]]  # element → allowed codes (required bindings)


def _spec(elements: str, required: str = "",
          codes: dict[str, frozenset[str]] | None = None, *, base: str = "") -> Spec:
    """``elements``: ``name:Type`` items, ``*`` after the type for 0..* elements."""
    parsed = {}
    for item in (base + " " + elements).split():
        name, kind = item.split(":")
        parsed[name] = Element(kind.rstrip("*"), kind.endswith("*"))
    return Spec(parsed, tuple(required.split()), codes or {})


_RESOURCE = ("id:id meta:Meta implicitRules:uri language:code text:Narrative "
             "contained:Resource* extension:Extension* modifierExtension:Extension*")
_DATATYPE = "id:string extension:Extension*"
_BACKBONE = _DATATYPE + " modifierExtension:Extension*"
_QUANTITY = "value:decimal comparator:code unit:string system:uri code:code"
_COMPARATORS = {"comparator": frozenset({"<", "<=", ">=", ">"})}
_VALUE = ("valueQuantity:Quantity valueCodeableConcept:CodeableConcept valueString:string "
          "valueBoolean:boolean valueInteger:integer valueRange:Range valueRatio:Ratio "
          "valueSampledData:SampledData valueTime:time valueDateTime:dateTime "
          "valuePeriod:Period dataAbsentReason:CodeableConcept "
          "interpretation:CodeableConcept* referenceRange:BackboneElement*")

# R4 complex datatypes used by the supported resources; Extension, BackboneElement,
# Resource (contained), Timing and SampledData are taken as any non-empty object
DATATYPES: dict[str, Spec] = {
    "Identifier": _spec(
        "use:code type:CodeableConcept system:uri value:string period:Period "
        "assigner:Reference", base=_DATATYPE,
        codes={"use": frozenset({"usual", "official", "temp", "secondary", "old"})}),
    "CodeableConcept": _spec("coding:Coding* text:string", base=_DATATYPE),
    "Coding": _spec("system:uri version:string code:code display:string "
                    "userSelected:boolean", base=_DATATYPE),
    "Reference": _spec("reference:string type:uri identifier:Identifier display:string",
                       base=_DATATYPE),
    "Period": _spec("start:dateTime end:dateTime", base=_DATATYPE),
    "HumanName": _spec(
        "use:code text:string family:string given:string* prefix:string* suffix:string* "
        "period:Period", base=_DATATYPE,
        codes={"use": frozenset({"usual", "official", "temp", "nickname", "anonymous", "old",
                                 "maiden"})}),
    "Address": _spec(
        "use:code type:code text:string line:string* city:string district:string "
        "state:string postalCode:string country:string period:Period", base=_DATATYPE,
        codes={"use": frozenset({"home", "work", "temp", "old", "billing"}),
               "type": frozenset({"postal", "physical", "both"})}),
    "ContactPoint": _spec(
        "system:code value:string use:code rank:positiveInt period:Period", base=_DATATYPE,
        codes={"system": frozenset({"phone", "fax", "email", "pager", "url", "sms",
                                    "other"}),
               "use": frozenset({"home", "work", "temp", "old", "mobile"})}),
    "Quantity": _spec(_QUANTITY, base=_DATATYPE, codes=_COMPARATORS),
    "Age": _spec(_QUANTITY, base=_DATATYPE, codes=_COMPARATORS),
    "Duration": _spec(_QUANTITY, base=_DATATYPE, codes=_COMPARATORS),
    "Range": _spec("low:Quantity high:Quantity", base=_DATATYPE),
    "Ratio": _spec("numerator:Quantity denominator:Quantity", base=_DATATYPE),
    "Annotation": _spec("authorReference:Reference authorString:string time:dateTime "
                        "text:markdown", "text", base=_DATATYPE),
    "Attachment": _spec(
        "contentType:code language:code data:base64Binary url:url size:unsignedInt "
        "hash:base64Binary title:string creation:dateTime", base=_DATATYPE),
    "Meta": _spec("versionId:id lastUpdated:instant source:uri profile:canonical* "
                  "security:Coding* tag:Coding*", base=_DATATYPE),
    "Narrative": _spec("status:code div:xhtml", "status div", base=_DATATYPE,
                       codes={"status": frozenset({"generated", "extensions", "additional",
                                                   "empty"})}),
    "ObservationComponent": _spec("code:CodeableConcept " + _VALUE, "code", base=_BACKBONE),
}

_PERIOD = DATATYPES["Period"]
_EVENT_STATUS = frozenset({"preparation", "in-progress", "not-done", "on-hold", "stopped",
                           "completed", "entered-in-error", "unknown"})
RESOURCE_TYPES: dict[str, Spec] = {
    "Patient": _spec(
        "identifier:Identifier* active:boolean name:HumanName* telecom:ContactPoint* "
        "gender:code birthDate:date deceasedBoolean:boolean deceasedDateTime:dateTime "
        "address:Address* maritalStatus:CodeableConcept multipleBirthBoolean:boolean "
        "multipleBirthInteger:integer photo:Attachment* contact:BackboneElement* "
        "communication:BackboneElement* generalPractitioner:Reference* "
        "managingOrganization:Reference link:BackboneElement*", base=_RESOURCE,
        codes={"gender": frozenset({"male", "female", "other", "unknown"})}),
    "Encounter": _spec(
        "identifier:Identifier* status:code statusHistory:BackboneElement* class:Coding "
        "classHistory:BackboneElement* type:CodeableConcept* serviceType:CodeableConcept "
        "priority:CodeableConcept subject:Reference episodeOfCare:Reference* "
        "basedOn:Reference* participant:BackboneElement* appointment:Reference* "
        "period:Period length:Duration reasonCode:CodeableConcept* "
        "reasonReference:Reference* diagnosis:BackboneElement* account:Reference* "
        "hospitalization:BackboneElement location:BackboneElement* "
        "serviceProvider:Reference partOf:Reference",
        "status class", base=_RESOURCE,
        codes={"status": frozenset({"planned", "arrived", "triaged", "in-progress", "onleave",
                                    "finished", "cancelled", "entered-in-error",
                                    "unknown"})}),
    "Condition": _spec(
        "identifier:Identifier* clinicalStatus:CodeableConcept "
        "verificationStatus:CodeableConcept category:CodeableConcept* "
        "severity:CodeableConcept code:CodeableConcept bodySite:CodeableConcept* "
        "subject:Reference encounter:Reference onsetDateTime:dateTime onsetAge:Age "
        "onsetPeriod:Period onsetRange:Range onsetString:string "
        "abatementDateTime:dateTime abatementAge:Age abatementPeriod:Period "
        "abatementRange:Range abatementString:string recordedDate:dateTime "
        "recorder:Reference asserter:Reference stage:BackboneElement* "
        "evidence:BackboneElement* note:Annotation*",
        "subject", base=_RESOURCE),
    "Observation": _spec(
        "identifier:Identifier* basedOn:Reference* partOf:Reference* status:code "
        "category:CodeableConcept* code:CodeableConcept subject:Reference focus:Reference* "
        "encounter:Reference effectiveDateTime:dateTime effectivePeriod:Period "
        "effectiveTiming:Timing effectiveInstant:instant issued:instant "
        "performer:Reference* note:Annotation* bodySite:CodeableConcept "
        "method:CodeableConcept specimen:Reference device:Reference hasMember:Reference* "
        "derivedFrom:Reference* component:ObservationComponent* " + _VALUE,
        "status code", base=_RESOURCE,
        codes={"status": frozenset({"registered", "preliminary", "final", "amended",
                                    "corrected", "cancelled", "entered-in-error",
                                    "unknown"})}),
    "Procedure": _spec(
        "identifier:Identifier* instantiatesCanonical:canonical* instantiatesUri:uri* "
        "basedOn:Reference* partOf:Reference* status:code statusReason:CodeableConcept "
        "category:CodeableConcept code:CodeableConcept subject:Reference "
        "encounter:Reference performedDateTime:dateTime performedPeriod:Period "
        "performedString:string performedAge:Age performedRange:Range recorder:Reference "
        "asserter:Reference performer:BackboneElement* location:Reference "
        "reasonCode:CodeableConcept* reasonReference:Reference* bodySite:CodeableConcept* "
        "outcome:CodeableConcept report:Reference* complication:CodeableConcept* "
        "complicationDetail:Reference* followUp:CodeableConcept* note:Annotation* "
        "focalDevice:BackboneElement* usedReference:Reference* usedCode:CodeableConcept*",
        "status subject", base=_RESOURCE, codes={"status": _EVENT_STATUS}),
    "Immunization": _spec(
        "identifier:Identifier* status:code statusReason:CodeableConcept "
        "vaccineCode:CodeableConcept patient:Reference encounter:Reference "
        "occurrenceDateTime:dateTime occurrenceString:string recorded:dateTime "
        "primarySource:boolean reportOrigin:CodeableConcept location:Reference "
        "manufacturer:Reference lotNumber:string expirationDate:date site:CodeableConcept "
        "route:CodeableConcept doseQuantity:Quantity performer:BackboneElement* "
        "note:Annotation* reasonCode:CodeableConcept* reasonReference:Reference* "
        "isSubpotent:boolean subpotentReason:CodeableConcept* education:BackboneElement* "
        "programEligibility:CodeableConcept* fundingSource:CodeableConcept "
        "reaction:BackboneElement* protocolApplied:BackboneElement*",
        "status vaccineCode patient", base=_RESOURCE,
        codes={"status": frozenset({"completed", "entered-in-error", "not-done"})}),
    "ServiceRequest": _spec(
        "identifier:Identifier* instantiatesCanonical:canonical* instantiatesUri:uri* "
        "basedOn:Reference* replaces:Reference* requisition:Identifier status:code "
        "intent:code category:CodeableConcept* priority:code doNotPerform:boolean "
        "code:CodeableConcept orderDetail:CodeableConcept* quantityQuantity:Quantity "
        "quantityRatio:Ratio quantityRange:Range subject:Reference encounter:Reference "
        "occurrenceDateTime:dateTime occurrencePeriod:Period occurrenceTiming:Timing "
        "asNeededBoolean:boolean asNeededCodeableConcept:CodeableConcept "
        "authoredOn:dateTime requester:Reference performerType:CodeableConcept "
        "performer:Reference* locationCode:CodeableConcept* locationReference:Reference* "
        "reasonCode:CodeableConcept* reasonReference:Reference* insurance:Reference* "
        "supportingInfo:Reference* specimen:Reference* bodySite:CodeableConcept* "
        "note:Annotation* patientInstruction:string relevantHistory:Reference*",
        "status intent subject", base=_RESOURCE,
        codes={"status": frozenset({"draft", "active", "on-hold", "revoked", "completed",
                                    "entered-in-error", "unknown"}),
               "intent": frozenset({"proposal", "plan", "directive", "order",
                                    "original-order", "reflex-order", "filler-order",
                                    "instance-order", "option"}),
               "priority": frozenset({"routine", "urgent", "asap", "stat"})}),
    "Appointment": _spec(
        "identifier:Identifier* status:code cancelationReason:CodeableConcept "
        "serviceCategory:CodeableConcept* serviceType:CodeableConcept* "
        "specialty:CodeableConcept* appointmentType:CodeableConcept "
        "reasonCode:CodeableConcept* reasonReference:Reference* priority:unsignedInt "
        "description:string supportingInformation:Reference* start:instant end:instant "
        "minutesDuration:positiveInt slot:Reference* created:dateTime comment:string "
        "patientInstruction:string basedOn:Reference* participant:BackboneElement* "
        "requestedPeriod:Period*",
        "status participant", base=_RESOURCE,
        codes={"status": frozenset({"proposed", "pending", "booked", "arrived", "fulfilled",
                                    "cancelled", "noshow", "entered-in-error", "checked-in",
                                    "waitlist"})}),
    "Organization": _spec(
        "identifier:Identifier* active:boolean type:CodeableConcept* name:string "
        "alias:string* telecom:ContactPoint* address:Address* partOf:Reference "
        "contact:BackboneElement* endpoint:Reference*", base=_RESOURCE),
    "Location": _spec(
        "identifier:Identifier* status:code operationalStatus:Coding name:string "
        "alias:string* description:string mode:code type:CodeableConcept* "
        "telecom:ContactPoint* address:Address physicalType:CodeableConcept "
        "position:BackboneElement managingOrganization:Reference partOf:Reference "
        "hoursOfOperation:BackboneElement* availabilityExceptions:string "
        "endpoint:Reference*", base=_RESOURCE,
        codes={"status": frozenset({"active", "suspended", "inactive"}),
               "mode": frozenset({"instance", "kind"})}),
}


# the resources of a document Bundle (an International Patient Summary, issue 24) that rmds
# writes and does not ingest: validated by :meth:`Validator.check_document`
DOCUMENT_TYPES: dict[str, Spec] = {
    "Bundle": _spec(
        "identifier:Identifier type:code timestamp:instant total:unsignedInt "
        "link:BackboneElement* entry:BackboneElement* signature:BackboneElement",
        "type", base="id:id meta:Meta implicitRules:uri language:code",
        codes={"type": frozenset({"document", "message", "transaction",
                                  "transaction-response", "batch", "batch-response",
                                  "history", "searchset", "collection"})}),
    "Composition": _spec(
        "identifier:Identifier status:code type:CodeableConcept category:CodeableConcept* "
        "subject:Reference encounter:Reference date:dateTime author:Reference* title:string "
        "confidentiality:code attester:BackboneElement* custodian:Reference "
        "relatesTo:BackboneElement* event:BackboneElement* section:BackboneElement*",
        "status type date author title", base=_RESOURCE,
        codes={"status": frozenset({"preliminary", "final", "amended",
                                    "entered-in-error"})}),
}


for _declared in (*DATATYPES.values(), *RESOURCE_TYPES.values(), *DOCUMENT_TYPES.values()):
    for _name, _element in _declared.elements.items():
        _element.spec = DATATYPES.get(_element.type)
        _element.allowed = _declared.codes.get(_name)
        _element.flat = _element.spec is not None and all(
            inner.type in PRIMITIVES or inner_name == "extension"
            for inner_name, inner in _element.spec.elements.items())


@dataclass(frozen=True)
class FhirProblem:
    """A problem at ``path``. ``field_only``: only that field is quarantined (an identifier
    with a wrong check digit); the resource itself is kept without it."""

    path: str
    reason: str
    field_only: bool = False


class Validator:
    """Checks resources against the declared R4 rules and the pack's code systems."""

    def __init__(self, pack: ReferencePack) -> None:
        self.cid10 = pack.cid10
        self.sigtap = pack.sigtap.procedures
        # datatype values already found valid, by content: codings, periods, CNES
        # identifiers repeat across thousands of resources (bounded; only flat values)
        self._valid: dict[tuple[Any, ...], bool] = {}

    def check(self, resource: Any) -> list[FhirProblem]:
        if not isinstance(resource, dict):
            return [FhirProblem("(recurso)", "não é um objeto JSON")]
        rtype = resource.get("resourceType")
        spec = RESOURCE_TYPES.get(rtype) if isinstance(rtype, str) else None
        if spec is None or not isinstance(rtype, str):
            return [FhirProblem("resourceType", f"tipo de recurso não suportado: {rtype!r} "
                                f"(aceitos: {', '.join(RESOURCE_TYPES)})")]
        problems: list[FhirProblem] = []
        self._object(rtype, resource, spec, problems, resource=True)
        if problems:
            return problems
        self._identifiers(rtype, resource, problems)
        self._codings(rtype, resource, problems)
        self._references(rtype, resource, problems)
        return problems

    def check_document(self, bundle: Any) -> list[FhirProblem]:
        """A document Bundle (R4 bdl-9/10/11, the IPS shape): the envelope, a Composition
        first, a ``fullUrl`` on every entry and each unique, every resource valid, and every
        reference of the Composition (subject, author, section entries) resolved inside the
        Bundle."""
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            return [FhirProblem("Bundle", "não é um Bundle")]
        problems: list[FhirProblem] = []
        self._object("Bundle", bundle, DOCUMENT_TYPES["Bundle"], problems, resource=True)
        if problems:
            return problems
        if bundle.get("type") != "document":
            problems.append(FhirProblem("Bundle.type", "um documento tem type 'document'"))
        for name in ("identifier", "timestamp"):
            if not bundle.get(name):
                problems.append(FhirProblem(f"Bundle.{name}", "obrigatório num documento "
                                            "(bdl-9, bdl-10)"))
        entries = bundle.get("entry") or []
        urls: set[str] = set()
        for i, entry in enumerate(entries):
            path = f"Bundle.entry[{i}]"
            url, resource = entry.get("fullUrl"), entry.get("resource")
            if not isinstance(url, str) or not url:
                problems.append(FhirProblem(f"{path}.fullUrl", "ausente"))
            elif url in urls:
                problems.append(FhirProblem(f"{path}.fullUrl", "repetido (bdl-7)"))
            else:
                urls.add(url)
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            if rtype == "Composition":
                found: list[FhirProblem] = []
                self._object("Composition", resource, DOCUMENT_TYPES["Composition"], found,
                             resource=True)
                problems += [FhirProblem(f"{path}.resource.{p.path}", p.reason)
                             for p in found]
            else:
                # in a document going out nothing is quarantined: a bad identifier is only
                # a problem of the document (the reading's "identifier dropped" is not said)
                problems += [FhirProblem(f"{path}.resource.{p.path}",
                                         p.reason.split(": identificador descartado")[0])
                             for p in self.check(resource)]
        if not entries or not isinstance(entries[0].get("resource"), dict) or \
                entries[0]["resource"].get("resourceType") != "Composition":
            problems.append(FhirProblem("Bundle.entry[0]", "a primeira entrada de um "
                                        "documento é a Composition (bdl-11)"))
            return problems
        composition = entries[0]["resource"]
        refs = [("subject", composition.get("subject"))] + [
            (f"author[{i}]", a) for i, a in enumerate(composition.get("author") or [])]
        for s, section in enumerate(composition.get("section") or []):
            if not section.get("title") or not section.get("code"):
                problems.append(FhirProblem(f"Composition.section[{s}]", "seção sem title ou "
                                            "code"))
            if not section.get("entry") and not section.get("emptyReason"):
                problems.append(FhirProblem(f"Composition.section[{s}]", "seção sem entry "
                                            "nem emptyReason (cmp-2)"))
            refs += [(f"section[{s}].entry[{e}]", r)
                     for e, r in enumerate(section.get("entry") or [])]
        for where, ref in refs:
            target = ref.get("reference") if isinstance(ref, dict) else None
            if target not in urls:
                problems.append(FhirProblem(f"Composition.{where}", f"referência fora do "
                                            f"documento: {target!r:.60}"))
        return problems

    def _object(self, path: str, value: dict[str, Any], spec: Spec,
                problems: list[FhirProblem], *, resource: bool = False) -> None:
        """An element (or the resource) against its type's declaration: known elements,
        cardinality, types all the way down, required elements and bindings. Paths are
        written only for problems and nested objects (this runs for every resource)."""
        elements = spec.elements
        for key, item in value.items():
            element = elements.get(key)
            if element is None:
                if key == "resourceType" and resource:
                    continue
                if key.startswith("_") and key[1:] in elements:
                    continue  # a primitive's id and extensions (JSON's _element form)
                problems.append(FhirProblem(f"{path}.{key}", "elemento desconhecido em R4"))
            elif item is None:
                problems.append(FhirProblem(f"{path}.{key}", "valor nulo não é permitido"))
            elif element.many:
                if type(item) is not list or not item:
                    problems.append(FhirProblem(f"{path}.{key}",
                                                "deve ser uma lista não vazia (0..*)"))
                    continue
                check = element.check
                for index, one in enumerate(item):
                    if not (check(one) if check is not None else
                            element.spec is None and type(one) is dict and one):
                        self._value(f"{path}.{key}[{index}]", one, element, problems)
            elif type(item) is list:
                problems.append(FhirProblem(f"{path}.{key}", "cardinalidade máxima 1, "
                                            "recebida uma lista"))
            else:
                check = element.check
                if not (check(item) if check is not None else
                        element.spec is None and type(item) is dict and item):
                    self._value(f"{path}.{key}", item, element, problems)
                allowed = element.allowed
                if allowed is not None and type(item) is str and item not in allowed:
                    problems.append(FhirProblem(f"{path}.{key}", f"código fora do conjunto "
                                                f"obrigatório: {item!r:.40}"))
        for key in spec.required:
            if value.get(key) in (None, "", [], {}):
                problems.append(FhirProblem(f"{path}.{key}", "elemento obrigatório ausente "
                                            "(cardinalidade mínima 1)"))
        if spec is _PERIOD:
            start, end = str(value.get("start", "")), str(value.get("end", ""))
            if (_calendar_date(start, _DATETIME) and _calendar_date(end, _DATETIME)
                    and min(len(start), len(end)) >= 10 and end[:10] < start[:10]):
                problems.append(FhirProblem(path, "fim anterior ao início (per-1)"))

    def _value(self, path: str, value: Any, element: Element,
               problems: list[FhirProblem]) -> None:
        """A value that is not a valid primitive nor an opaque non-empty object: a datatype
        to check, or a problem."""
        if element.check is not None:
            shown = f": {value!r:.40}" if element.type in _SHOWN else ""
            problems.append(FhirProblem(path, f"valor {element.type} inválido{shown}"))
        elif type(value) is not dict or not value:
            problems.append(FhirProblem(path, f"{element.type} deve ser um objeto não vazio"))
        elif element.spec is not None:
            key: tuple[Any, ...] | None = None
            if element.flat:
                try:
                    key = (element.type, *value.items())
                    if key in self._valid:
                        return
                except TypeError:  # an extension (a list): not cached
                    key = None
            found = len(problems)
            self._object(path, value, element.spec, problems)
            if key is not None and len(problems) == found:
                if len(self._valid) >= 200_000:
                    self._valid.clear()
                self._valid[key] = True

    # The checks below run once the structure passed (:meth:`_object`): identifiers are
    # Identifier objects, codes CodeableConcepts with Coding lists, references Reference
    # objects, and their texts non-empty strings. They check what the structure cannot.

    def _identifiers(self, rtype: str, resource: dict[str, Any],
                     problems: list[FhirProblem]) -> None:
        for i, ident in enumerate(resource.get("identifier") or ()):
            path = f"{rtype}.identifier[{i}].value"
            system, value = ident.get("system"), ident.get("value")
            if value is None:
                problems.append(FhirProblem(path, "valor ausente"))
            elif system in CNS_SYSTEMS and not is_valid_cns(value):
                problems.append(FhirProblem(path, "CNS inválido (dígito verificador): "
                                            "identificador descartado, recurso mantido",
                                            field_only=True))
            elif system in CPF_SYSTEMS and not is_valid_cpf(value):
                problems.append(FhirProblem(path, "CPF inválido (dígito verificador): "
                                            "identificador descartado, recurso mantido",
                                            field_only=True))
            elif system in CNES_SYSTEMS and not (value.isdigit() and len(value) == 7):
                problems.append(FhirProblem(path, "CNES deve ter 7 dígitos"))

    def _codings(self, rtype: str, resource: dict[str, Any],
                 problems: list[FhirProblem]) -> None:
        for element in ("code", "vaccineCode", "reasonCode"):
            value = resource.get(element)
            concepts = value if isinstance(value, list) else [value] if value else []
            for k, concept in enumerate(concepts):
                base = f"{rtype}.{element}" + (f"[{k}]" if isinstance(value, list) else "")
                codings = concept.get("coding")
                if codings is None:
                    if not concept.get("text"):
                        problems.append(FhirProblem(base, "CodeableConcept sem coding nem "
                                                    "text"))
                    continue
                for j, coding in enumerate(codings):
                    self._coding(f"{base}.coding[{j}]", coding, problems)

    def _coding(self, path: str, coding: dict[str, Any],
                problems: list[FhirProblem]) -> None:
        system, code = coding.get("system"), coding.get("code")
        if code is None:
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
            if ref is not None and not (ref.get("reference") or ref.get("identifier")):
                problems.append(FhirProblem(f"{rtype}.{element}", "referência sem "
                                            "'reference' nem 'identifier'"))
