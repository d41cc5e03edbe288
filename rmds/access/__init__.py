"""The access policy: who sees what, in which form (see :mod:`rmds.access.policy`)."""

from rmds.access.policy import (
    CELL_MASKED,
    GUARDIAN_MAX_AGE,
    MIN_JUSTIFICATION,
    OPERATOR,
    RULES,
    AccessDenied,
    AccessPolicy,
    CareGrant,
    DataClass,
    Decision,
    Place,
    Purpose,
    Scope,
    decide,
)

__all__ = ["CELL_MASKED", "GUARDIAN_MAX_AGE", "MIN_JUSTIFICATION", "OPERATOR", "RULES",
           "AccessDenied", "AccessPolicy", "CareGrant", "DataClass", "Decision", "Place",
           "Purpose", "Scope", "decide"]
