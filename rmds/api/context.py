"""What every router needs: the services, the caller, the policy, the audit and the cache.

One :class:`ApiContext` is made by :func:`rmds.api.app.create_api` and kept in
``app.state.ctx``; routers reach it through the :func:`context` dependency, so that a
router module holds no state of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import gzip
import re
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute

from rmds.access import AccessDenied, AccessPolicy, DataClass, Decision, Purpose, Scope
from rmds.api.cache import Encoded, ResponseCache
from rmds.api.security import client_address, reason_header
from rmds.api.service import DataService
from rmds.api.snapshots import pinned
from rmds.downloads import FORMATS, Download, render
from rmds.store import Store
from rmds.store.audit import record
from rmds.store.auth import PUBLIC_USER, Role, User, recently_checked, user_for_token
from rmds.territory import Level, ReferencePack

if TYPE_CHECKING:
    from rmds.care.worklists import Entry, Worklist

__all__ = ["COOKIE", "ApiContext", "Ctx", "Viewer", "bearer", "context",
           "level_param", "refuse_unknown_parameters", "viewer"]

COOKIE = "rmds_sessao"
LEVELS = tuple(level.value for level in Level)
_PERIOD = re.compile(r"\d{4}(-T[1-4]|-(0[1-9]|1[0-2]))?")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return token or request.cookies.get(COOKIE)


@dataclass
class ApiContext:
    data: DataService
    store: Store
    pack: ReferencePack
    policy: AccessPolicy
    cache: ResponseCache
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------- identity
    def current_user(self, request: Request) -> User:
        """The caller; 401 for a token that is not (or no longer) a session."""
        token = bearer(request)
        if not token:
            return PUBLIC_USER
        user = user_for_token(self.store, token)
        if user is None:
            raise HTTPException(401, "sessão inválida ou expirada; entre novamente")
        return user

    def scope(self, user: User) -> Scope:
        return self.policy.scope(user)

    def team_town(self, user: User, municipio: str | None) -> str:
        """The municipality whose work lists ``user`` works: their own (a professional),
        or the one named (the administrator, for audit). Lists are care records of named
        people: the policy's care rule decides, with care coordination as the purpose;
        another municipality's list is never had by breaking the glass."""
        scope = self.scope(user)
        if not self.policy.may_read_somewhere(user.role, DataClass.CARE):
            raise AccessDenied("as listas nominais são de quem cuida dos pacientes",
                               signed_in=scope.signed_in)
        town = municipio or (user.scope_code if user.scope_level == "municipio" else None)
        if not town or town not in self.data.municipalities:
            raise HTTPException(422, "informe o município (IBGE, 7 dígitos)")
        purpose = (Purpose.AUDIT if user.role is Role.ADMIN else Purpose.COORDINATION).value
        # no justification is taken: outside the municipality the care rule refuses
        self.policy.care(scope, town, purpose, None)
        return town

    def team_counts(self, user: User, town: str) -> dict[str, int]:
        """Persons on each declared list for ``user``'s team in ``town`` (narrowed to the
        professional's facilities, when they have some): the counts of ``/listas`` and
        ``GET /api/listas``. Blocking: call it off the event loop."""
        from rmds.care.worklists import compute_all, counts, load_worklists

        found = compute_all(self.data.cursor(), list(load_worklists().values()),
                            icsap=frozenset(self.pack.icsap.codes), municipality=town,
                            facilities=user.facilities)
        return {key: counts(entries).get(town, 0) for key, entries in found.items()}

    def team_list(self, user: User, town: str, lista: str) -> tuple[Worklist, list[Entry]]:
        """The people of list ``lista`` for ``user``'s team in ``town`` (404: no such
        list); the caller audits what it hands out. Blocking: call it off the event loop."""
        from rmds.care.worklists import compute, load_worklists

        lists = load_worklists()
        if lista not in lists:
            raise HTTPException(404, f"lista desconhecida: {lista}")
        wl = lists[lista]
        return wl, compute(self.data.cursor(), wl, icsap=frozenset(self.pack.icsap.codes),
                           municipality=town, facilities=user.facilities)

    def worklists_in(self, user: User, level: str, code: str, indicator: str | None = None
                     ) -> dict[str, Any] | None:
        """The work lists' published counts for the unit (``level``, ``code``), for the
        indicators page and the unit's page: only for viewers whose scope holds the unit
        (the policy's small-cell rule: a count of people may be as small as one, and it is
        not suppressed, so nobody outside the territory sees it); None otherwise, or when
        the counts were never published."""
        from rmds.care.listcounts import for_unit

        scope = self.scope(user)
        if self.policy.decide(scope, DataClass.SMALL_CELL, level, code) is not Decision.ALLOW:
            return None
        found = self.data.worklist_counts()
        if found is None:
            return None
        if level == Level.STATE.value:
            towns = None
        elif level == Level.MUNICIPALITY.value:
            towns = frozenset({code})
        else:
            year = int((self.data.latest_year() or "2023")[:4])
            placed = self.data.parent_of(level, self.pack.vintage_for_year(year), year)
            towns = frozenset(m for m, codes in placed.items() if code in codes)
        lists = for_unit(found, indicator, towns)
        if not lists:
            return None
        return {"listas": [{"id": wl.id, "titulo": wl.title, "indicador": wl.indicator,
                            "pessoas": n} for wl, n in lists],
                "calculado_em": found.computed_at, "data_de_referencia": found.as_of,
                "snapshot_lido": found.snapshot_read}

    # ----------------------------------------------------------------- audit
    @staticmethod
    def origin(request: Request) -> str:
        """The client's address (``X-Forwarded-For`` only from a trusted proxy)."""
        return client_address(request)

    def audit(self, request: Request, user: User, action: str, territory: str | None = None,
              reason: str | None = None) -> None:
        resource = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        record(self.store, username=user.username, role=user.role.value, action=action,
               resource=resource, territory=territory, origin=self.origin(request),
               reason=reason or reason_header(request))

    # ----------------------------------------------------------------- cache
    async def cached(self, request: Request, user: User, key: Hashable,
                     produce: Callable[[], tuple[dict[str, Any], bool]]) -> Response:
        """Answer from the encoded-answer cache. ``key`` names the resource and its parsed
        parameters; the caller's scope and the lake's run are added here, so an answer made
        for one scope is never served to another. A restricted answer is audited every
        time it is served."""
        full = (key, self.scope(user), self.data.run_id())
        hit = self.cache.get(full)
        if hit is None:
            # once the mart is in memory an answer is a few milliseconds of CPU: made on the
            # event loop, it avoids handing the GIL back and forth with a worker thread
            body, restricted = produce() if self.data.ready else \
                await run_in_threadpool(produce)
            raw = orjson.dumps(body, default=str)
            hit = Encoded(raw, gzip.compress(raw, compresslevel=1), restricted)
            self.cache.put(full, hit)
        if hit.restricted:
            await run_in_threadpool(self.audit, request, user, "leitura_restrita")
        if "gzip" in request.headers.get("accept-encoding", "") and len(hit.raw) > 2000:
            return Response(hit.gzipped, media_type="application/json",
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(hit.raw, media_type="application/json")

    async def download(self, request: Request, user: User, key: Hashable,
                       produce: Callable[[], tuple[dict[str, Any], bool]],
                       describe: Callable[[dict[str, Any], int | None], Download],
                       fmt: str) -> Response:
        """The same answer as :meth:`cached` gives for ``key``, as a file to download
        (``fmt``: csv or xlsx; see :mod:`rmds.downloads`): made from the same masked
        cells, cached under the same scope and run, audited the same way when restricted.
        ``describe`` turns the answer into the table and its header block."""
        if fmt not in FORMATS:
            raise HTTPException(422, f"formato inválido: {fmt} (use json, csv ou xlsx)")
        view = pinned.get()
        snapshot = view.snapshot if view is not None else None
        full = (key, fmt, self.scope(user), self.data.run_id())
        hit = self.cache.get(full)
        if hit is None:
            body, restricted = produce() if self.data.ready else \
                await run_in_threadpool(produce)
            table = describe(body, snapshot)
            raw = await run_in_threadpool(render, table, fmt)
            hit = Encoded(raw, b"", restricted, table.name)
            self.cache.put(full, hit)
        if hit.restricted:
            await run_in_threadpool(self.audit, request, user, "download_restrito")
        return Response(hit.raw, media_type=FORMATS[fmt], headers={
            "Content-Disposition": f'attachment; filename="{hit.name}.{fmt}"'})

    def latest_period(self, periodo: str | None) -> str:
        period = periodo or self.data.latest_year()
        if period is None:
            raise HTTPException(404, "ainda não há indicadores calculados no lago")
        if not _PERIOD.fullmatch(period):
            raise HTTPException(422, f"período inválido: {period} (AAAA, AAAA-Tn, AAAA-MM)")
        return period


def _context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def context(request: Request) -> ApiContext:
    """The app's context. ``async`` (it waits on nothing): FastAPI runs a plain ``def``
    dependency in a thread, a hop per request for nothing."""
    return _context(request)


Ctx = Annotated[ApiContext, Depends(context)]


T = TypeVar("T")
#: the threads that open care records (each opening waits for its audit entry's commit;
#: many at once share one commit): as many as anyio's default
_OPENERS = ThreadPoolExecutor(max_workers=40, thread_name_prefix="rmds-abertura")


async def in_thread(work: Callable[[], T]) -> T:
    """``work()`` in a thread, with the request's context (the snapshot it reads): what
    ``run_in_threadpool`` does, without anyio's per-call bookkeeping (measured with
    ``benchmarks/care.py``: ``$summary`` ~2% more requests/s)."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_OPENERS, context.run, work)


async def viewer(request: Request) -> User:
    """The caller; the store is only consulted when a token is given."""
    token = bearer(request)
    if not token:
        return PUBLIC_USER
    ctx = _context(request)
    # a session this process checked a moment ago is answered here, without a thread
    checked = recently_checked(ctx.store, token)
    if checked is not None:
        return checked
    return await run_in_threadpool(ctx.current_user, request)


Viewer = Annotated[User, Depends(viewer)]


def level_param(nivel: str) -> str:
    if nivel not in LEVELS:
        raise HTTPException(422, f"nível inválido: {nivel} (use {', '.join(LEVELS)})")
    return nivel


_KNOWN: dict[int, frozenset[str]] = {}
#: parameters every route takes: the lake snapshot to read (:mod:`rmds.api.snapshots`)
GLOBAL_PARAMETERS = frozenset({"snapshot"})


async def refuse_unknown_parameters(request: Request) -> None:
    """422 for a query parameter the route does not declare: a typo is told, not silently
    ignored, and junk parameters never reach the answer cache. ``async`` (it waits on
    nothing), so that FastAPI does not run it in a thread."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = _KNOWN.get(id(route))
    if known is None:
        known = _KNOWN[id(route)] = frozenset(_query_names(route.dependant)) | \
            GLOBAL_PARAMETERS
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(422, "parâmetro desconhecido: " + ", ".join(unknown[:5]))


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
