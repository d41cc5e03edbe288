"""FHIR R4 ingestion: a Bundle goes through the same path as ``rmds ingest``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, HTTPException, Request

from rmds.access import AccessDenied
from rmds.api.context import Ctx, Viewer, refuse_unknown_parameters
from rmds.exceptions import InputError
from rmds.sources.fhir.residence import bundle_residences

__all__ = ["router"]

router = APIRouter(tags=["FHIR"], dependencies=[Depends(refuse_unknown_parameters)])


@router.post("/fhir")
def fhir_bundle(request: Request, user: Viewer, ctx: Ctx,
                bundle: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Recebe um Bundle FHIR R4 (collection, transaction ou batch) e o carrega no lago
    pelo mesmo caminho de `rmds ingest`: recursos inválidos vão para a quarentena."""
    scope = ctx.scope(user)
    if not scope.signed_in:
        raise AccessDenied("é preciso entrar para ver este recurso", signed_in=False)

    def require_write(residences: list[str | None]) -> None:
        try:
            ctx.policy.require_write(scope, residences)
        except AccessDenied as refused:
            ctx.audit(request, user, "escrita_recusada", reason=str(refused)[:400])
            raise

    # a bundle carries identity data: writes are scoped like reads, by the residence of
    # every patient it writes about (the state's analysts anywhere, a professional in
    # their own municipality); a role that holds identity data nowhere is refused first
    require_write([])
    if bundle.get("resourceType") != "Bundle":
        raise HTTPException(422, "o corpo deve ser um recurso FHIR Bundle")
    require_write(bundle_residences(bundle, ctx.pack.ibge6_to_7_table()))
    from rmds.lake.ingest import ingest

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bundle-{int(time.time() * 1000)}.json"
        path.write_bytes(orjson.dumps(bundle))
        try:
            with ctx.write_lock, ctx.data.writer() as lake:
                outcomes = ingest(lake, [path], ctx.pack)
            ctx.data.refresh()   # the next request reads what was just written
        except InputError as error:
            raise HTTPException(422, str(error).splitlines()[0]) from None
    ctx.audit(request, user, "escrita", reason="POST /fhir")
    out = []
    for o in outcomes:
        batch = o.batch or {}
        out.append({"situacao": o.status, "lote": batch.get("batch_id"),
                    "lidas": batch.get("rows_read"), "aceitas": batch.get("rows_accepted"),
                    "quarentena": batch.get("rows_quarantined"), "erro": o.error})
    return {"lotes": out}
