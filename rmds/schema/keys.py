"""Keys computed from the canonical columns, shared by every package that reads them.

:data:`RECORD_UID` identifies one person's record in ``identity_records`` (a source
system, a file, the record's key or row, and the person's role in it): linkage writes its
links under it, and the quality rules count duplicate and unlinked records by it. It lives
beside the schema, not in either user, so that neither imports the other.
"""

from __future__ import annotations

__all__ = ["RECORD_UID"]

#: SQL expression over ``identity_records`` naming one record uniquely
RECORD_UID = ("source_system || '|' || source_file || '|' || coalesce(record_key, "
              "CAST(source_row AS VARCHAR)) || '|' || role")
