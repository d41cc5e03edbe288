"""The access policy: who sees what, in which form (see :mod:`rmds.access.policy`)."""

from rmds.access.policy import (
    CELL_MASKED,
    OPERATOR,
    RULES,
    AccessDenied,
    AccessPolicy,
    DataClass,
    Decision,
    Place,
    Scope,
    decide,
)

__all__ = ["CELL_MASKED", "OPERATOR", "RULES", "AccessDenied", "AccessPolicy", "DataClass",
           "Decision", "Place", "Scope", "decide"]
