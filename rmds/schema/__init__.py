"""Canonical tables of rmds and the inventory of the lake, declared once."""

from rmds.schema.inventory import INVENTORY, PROTECTED, LakeTable, PeriodKind
from rmds.schema.tables import TABLES, Column, Table, table

__all__ = ["INVENTORY", "PROTECTED", "TABLES", "Column", "LakeTable", "PeriodKind", "Table",
           "table"]
