"""Identification fields of source records → ``identity_records`` (a protected table).

Public DATASUS files carry no names; the identified extracts a state secretariat receives,
the vaccination microdata with CNS, consortium reports and FHIR Patients do. Each system's
identification columns are declared with the system (:class:`rmds.systems.base.SystemDeclaration`,
``identity``); a file without them yields no identity rows.
Values are kept as registered (after trimming), since linkage must see the errors.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import sex
from rmds.sources.mapping import Decoded, MapContext
from rmds.systems import DECLARATIONS
from rmds.systems.base import IdentitySpec

__all__ = ["IDENTITY_SPECS", "IdentitySpec", "identity_rows"]


IDENTITY_SPECS: dict[str, tuple[IdentitySpec, ...]] = {
    code: d.identity for code, d in DECLARATIONS.items() if d.identity}


def identity_rows(source: pa.Table, rows: pa.Array, file: str, system: str, layout: str,
                  municipalities: dict[str, str], accepted_rows: pa.Array, *,
                  accessed: set[str] | None = None,
                  decoded: Decoded | None = None) -> pa.Table | None:
    """Identity rows of the accepted records of one batch, or None when the file has no
    identification columns. ``accessed``: a set that receives the source columns read;
    ``decoded``: the mapper's decoded columns, to share (see :class:`MapContext`)."""
    specs = IDENTITY_SPECS.get(system, ())
    present = set(source.column_names)
    target = table("identity_records")
    pieces = []
    for spec in specs:
        if not ({spec.name, spec.mother_name, spec.cns, spec.cpf} - {None}) & present:
            continue
        ctx = MapContext(source, rows, file, system, layout,  # its problems are not used
                         accessed=accessed,
                         decoded=decoded if decoded is not None else Decoded())

        def col(name: str | None, ctx: MapContext = ctx) -> pa.Array:
            return ctx.text(name) if name else pa.nulls(ctx.n, pa.string())

        birth = (ctx.date(spec.birth_date, spec.date_format) if spec.birth_date
                 else pa.nulls(ctx.n, pa.date32()))
        if spec.event_date:      # born after the event: an impossible date, not kept
            after = pc.fill_null(pc.greater(birth, ctx.date(spec.event_date,
                                                            spec.date_format)), False)
            birth = pc.if_else(after, pa.scalar(None, pa.date32()), birth)
        sex_values = (pa.array([spec.fixed_sex] * ctx.n, pa.string()) if spec.fixed_sex
                      else sex(ctx, spec.sex, spec.female_codes) if spec.sex
                      else pa.nulls(ctx.n, pa.string()))
        municipality = (ctx.municipality(spec.municipality, municipalities)
                        if spec.municipality else pa.nulls(ctx.n, pa.string()))
        full = ctx.assemble(target, {
            "record_key": col(spec.record_key), "role": pa.scalar(spec.role),
            "name": col(spec.name), "mother_name": col(spec.mother_name),
            "birth_date": birth, "sex": sex_values, "cns": col(spec.cns), "cpf": col(spec.cpf),
            "residence_municipality": municipality, "cep": col(spec.cep),
            "address": col(spec.address),
        })
        pieces.append(full.filter(pc.is_in(full.column("source_row"), accepted_rows)))
    return pa.concat_tables(pieces) if pieces else None

