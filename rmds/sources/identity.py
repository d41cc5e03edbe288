"""Identification fields of source records → ``identity_records`` (a protected table).

Public DATASUS files carry no names; the identified extracts a state secretariat receives,
the vaccination microdata with CNS, consortium reports and FHIR Patients do. Each system's
identification columns are declared here; a file without them yields no identity rows.
Values are kept as registered (after trimming), since linkage must see the errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.datasus.common import sex
from rmds.sources.mapping import Decoded, MapContext

__all__ = ["IDENTITY_SPECS", "IdentitySpec", "identity_rows"]


@dataclass(frozen=True)
class IdentitySpec:
    role: str
    record_key: str
    name: str | None
    mother_name: str | None
    birth_date: str | None
    date_format: str
    sex: str | None
    cns: str | None
    cpf: str | None
    municipality: str | None
    cep: str | None
    address: str | None
    female_codes: tuple[str, ...] = ("2", "F")
    fixed_sex: str | None = None


IDENTITY_SPECS: dict[str, tuple[IdentitySpec, ...]] = {
    "SIM": (IdentitySpec("falecido", "NUMERODO", "NOME", "NOMEMAE", "DTNASC", "%d%m%Y",
                         "SEXO", "NUMSUS", None, "CODMUNRES", "CEPRES", "ENDRES"),),
    "SINASC": (
        IdentitySpec("mae", "NUMERODN", "NOMEMAE", None, "DTNASCMAE", "%d%m%Y", None,
                     "NUMSUSMAE", "CPFMAE", "CODMUNRES", "CEPMAE", "ENDMAE", fixed_sex="F"),
        IdentitySpec("recem_nascido", "NUMERODN", None, "NOMEMAE", "DTNASC", "%d%m%Y", "SEXO",
                     None, None, "CODMUNRES", "CEPMAE", "ENDMAE"),
    ),
    "SIH": (IdentitySpec("paciente", "N_AIH", "NOME", "NOME_MAE", "NASC", "%Y%m%d", "SEXO",
                         "CNS_PAC", "CPF_PAC", "MUNIC_RES", "CEP", "LOGR",
                         female_codes=("2", "3")),),
    "PNI": (IdentitySpec("vacinado", "id_documento", "no_paciente", "no_mae_paciente",
                         "dt_nascimento_paciente", "%Y-%m-%d", "tp_sexo_paciente",
                         "nu_cns_paciente", "nu_cpf_paciente", "co_municipio_paciente", None,
                         None),),
    "CONSORCIO": (IdentitySpec("paciente", "id_solicitacao", "nome_paciente", "nome_mae",
                               "data_nascimento", "%d/%m/%Y", "sexo", "cns_paciente",
                               "cpf_paciente", "municipio_solicitante", None, None),),
}


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

