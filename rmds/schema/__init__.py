"""Canonical tables of rmds, declared once."""

from rmds.schema.tables import TABLES, Column, Table, table

__all__ = ["TABLES", "Column", "Table", "table"]
