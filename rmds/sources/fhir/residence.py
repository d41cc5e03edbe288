"""Where a FHIR patient lives: the IBGE code of an address's city, and the residences of
every patient a Bundle writes about (the access policy's input for a write)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["bundle_residences", "municipality_of"]


def municipality_of(city: Any, municipalities: Mapping[str, str]) -> str | None:
    """The IBGE code (7 digits) of a FHIR address's ``city`` (6 or 7 digits), if known."""
    if isinstance(city, str) and city.isdigit() and len(city) in (6, 7):
        return municipalities.get(city[:6])
    return None


#: the clinical references that place a resource with a patient
_PATIENT_REFERENCES = ("subject", "patient")


def bundle_residences(bundle: Mapping[str, Any], municipalities: Mapping[str, str]
                      ) -> list[str | None]:
    """The municipality of residence of every patient a Bundle writes about, as the reader
    would store it (``None``: a patient whose residence is missing or unknown, or a
    resource that points at a patient the Bundle does not carry, so that it cannot be
    placed). The access policy decides with these whether the sender may write the Bundle
    (:meth:`rmds.access.AccessPolicy.require_write`)."""
    entries = [e for e in bundle.get("entry") or () if isinstance(e, dict)]
    carried: set[str] = set()
    out: list[str | None] = []
    for entry in entries:
        res = entry.get("resource")
        if not isinstance(res, dict) or res.get("resourceType") != "Patient":
            continue
        for name in (entry.get("fullUrl"), f"Patient/{res.get('id')}"):
            if isinstance(name, str):
                carried.add(name)
        address = res.get("address")
        address = address[0] if isinstance(address, list) and address else address
        city = address.get("city") if isinstance(address, dict) else None
        out.append(municipality_of(city, municipalities))
    for entry in entries:
        res = entry.get("resource")
        if not isinstance(res, dict):
            continue
        for key in _PATIENT_REFERENCES:
            ref = res.get(key)
            target = ref.get("reference") if isinstance(ref, dict) else None
            if isinstance(target, str) and target not in carried:
                out.append(None)
    return out
