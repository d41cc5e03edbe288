"""FHIR R4: Bundles (collection, transaction, batch) and bulk NDJSON → canonical tables."""

from rmds.sources.fhir.reader import FhirFile, detect_fhir, open_fhir
from rmds.sources.fhir.validate import RESOURCE_TYPES, FhirProblem, Validator

__all__ = ["RESOURCE_TYPES", "FhirFile", "FhirProblem", "Validator", "detect_fhir",
           "open_fhir"]
