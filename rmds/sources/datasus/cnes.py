"""CNES — estabelecimentos (ST) → ``facilities``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from rmds.schema import table
from rmds.sources.mapping import MapContext, MapResult

__all__ = ["map_cnes"]


def map_cnes(ctx: MapContext, municipalities: dict[str, str]) -> MapResult:
    cnes = ctx.digits("CNES", 7)
    ctx.problem(pc.is_null(cnes), "CNES", ctx.raw("CNES"), "código CNES obrigatório")
    beds = [ctx.integer(c, 0) for c in ("QTLEITP1", "QTLEITP2", "QTLEITP3")]
    total_beds = pc.add(pc.add(pc.fill_null(beds[0], 0), pc.fill_null(beds[1], 0)),
                        pc.fill_null(beds[2], 0))
    cnpj = pc.coalesce(ctx.text("CPF_CNPJ", ("00000000000000",)),
                       ctx.text("CNPJ_MAN", ("00000000000000",)))
    sus = ctx.decode("VINC_SUS", {"0": "false", "1": "true", "2": "false"})
    columns = {
        "cnes": cnes,
        "competence": ctx.digits("COMPETEN", 6),
        "municipality": ctx.municipality("CODUFMUN", municipalities, required=True),
        "unit_type": ctx.text("TP_UNID"),
        "management": ctx.text("TPGESTAO"),
        "legal_nature": ctx.text("NAT_JUR"),
        "sus_contract": pc.equal(sus, "true"),
        "hospital_beds": total_beds.cast(pa.int32()),
        "cnpj": cnpj,
    }
    return ctx.finish(table("facilities"), columns)
