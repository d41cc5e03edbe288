"""The data systems rmds reads, each declared once (:class:`SystemDeclaration`).

``DECLARATIONS`` is the one list: the source registry (:mod:`rmds.systems.registry`), the
identity extraction (:mod:`rmds.systems.identity`), the quality rules, the CLI's system
choices, the synthetic state and the docs derive from it. A new system is a folder here
(``rmds/systems/sinan/`` is the model) plus one line below; ``docs/adding-a-system.md``
lists the steps.
"""

from __future__ import annotations

from rmds.systems.base import IdentitySpec, LayoutVersion, SystemDeclaration
from rmds.systems.builtin import BUILTIN
from rmds.systems.sinan import SINAN

__all__ = ["DECLARATIONS", "IdentitySpec", "LayoutVersion", "SystemDeclaration"]

DECLARATIONS: dict[str, SystemDeclaration] = {d.code: d for d in (*BUILTIN, SINAN)}
