"""The citizen's own view, "Meus dados" (as sundhed.dk's "Min Log"): sign in with gov.br
(OpenID Connect, :mod:`rmds.api.oidc`), see one's own record and vaccination card,
download it as FHIR, see **every access to one's data** (who, role, when, purpose, broken
glass marked; complete by the audit chain, a deleted entry shown as missing), and report a
wrong record to the municipality's review queue (``/correcoes``).

Every read of the record here is audited like any opening (:func:`open_own_record`), so
the citizen's log shows their own reads too, marked as theirs.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections import Counter
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rmds.access import AccessDenied
from rmds.age import completed_years_date
from rmds.api.context import ApiContext
from rmds.api.oidc import (
    LocalProvider,
    Login,
    OidcError,
    Provider,
    provider_from_settings,
    verify_id_token,
)
from rmds.api.security import secure_cookie
from rmds.care.accesslog import access_log
from rmds.care.opening import (
    ACTION_GUARDIAN,
    ACTION_OWN,
    open_child_record,
    open_own_record,
    person_resource,
)
from rmds.care.record import PersonNotFound, children_of
from rmds.care.reports import (
    ACTION_VERDICT,
    broken_glass,
    judge_glass,
    open_reports,
    resolve_report,
    submit_report,
)
from rmds.care.summary import patient_summary
from rmds.store.audit import record as audit_record
from rmds.store.auth import PUBLIC_USER, AuthError, Role, User, citizen_session
from rmds.web.pages import COOKIE, LEVEL_LABELS, render

__all__ = ["register_citizen"]

LOGIN_COOKIE = "rmds_oidc"
ACTION_FHIR = "titular_baixou_fhir"
ACTION_REPORT = "titular_informou_erro"
#: what the citizen's log calls each audited action
ACTIONS = {"abrir_prontuario": "Abriu seu prontuário", "quebra_de_vidro": "Abriu seu prontuário",
           "baixar_lista": "Baixou uma lista nominal "
           "com seu nome", ACTION_OWN: "Você consultou seus dados",
           ACTION_FHIR: "Você baixou seus dados (FHIR)",
           ACTION_REPORT: "Você informou um registro errado",
           "revisar_aviso": "Revisou o seu aviso de registro errado",
           ACTION_GUARDIAN: "Consultou como responsável legal",
           ACTION_VERDICT: "Deu parecer sobre uma abertura do seu prontuário por quebra de "
           "vidro"}


def register_citizen(app: FastAPI) -> None:
    ctx: ApiContext = app.state.ctx
    app.state.oidc = provider_from_settings()

    def provider() -> Provider:
        found: Provider | None = app.state.oidc
        if found is None:
            raise HTTPException(404, "a entrada do cidadão (gov.br) não está configurada "
                                     "neste serviço (oidc_issuer)")
        return found

    def viewer(request: Request) -> User:
        try:
            return ctx.current_user(request)
        except HTTPException:
            return PUBLIC_USER

    def page(request: Request, user: User, status: int = 200, **extra: Any) -> HTMLResponse:
        return render("meus_dados.html", status=status, user=user, levels=LEVEL_LABELS,
                      path=request.url.path, **extra)

    def guardian_allowed(user: User, age: int) -> bool:
        try:
            ctx.policy.guardian_may_open(user, age)
        except AccessDenied:
            return False
        return True

    def return_uri(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/meus-dados/retorno"

    @app.get("/meus-dados", response_class=HTMLResponse, include_in_schema=False)
    def mine(request: Request) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return page(request, user, configured=app.state.oidc is not None)
        ctx.policy.own_record_key(user)          # anyone else signed in: 403

        def made() -> Response:
            try:
                found, _ = open_own_record(ctx.data.cursor(), ctx.store, ctx.policy, user,
                                           origin=ctx.origin(request),
                                           projection=ctx.data.care())
            except PersonNotFound as error:
                return page(request, user, missing=str(error))
            log = access_log(ctx.store, found.person_id)
            # one line per distinct way a system recorded them, with how many records say so
            said = Counter((i.source_system, i.name, i.birth_date, i.sex,
                            i.residence_municipality) for i in found.identifications)
            today = dt.date.today()
            # the children the policy lets this guardian open (the age rule is the policy's)
            minors = [(c, b) for c, b in children_of(ctx.data.cursor(), found.person_id)
                      if b is not None and guardian_allowed(user, completed_years_date(b, today))]
            return page(request, user, record=found, log=log, actions=ACTIONS,
                        identities=sorted(said.items(), key=lambda kv: (kv[0][0], -kv[1])),
                        municipalities=ctx.data.municipalities,
                        roles={r.value: r.label for r in Role}, children=minors,
                        vaccines=found.items("vacina"), sent=request.query_params.get(
                            "enviado") == "1")

        return made()

    @app.get("/meus-dados/dependentes/{pessoa}", response_class=HTMLResponse,
             include_in_schema=False)
    def child_page(request: Request, pessoa: int) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return RedirectResponse("/meus-dados", status_code=303)
        found, _ = open_child_record(ctx.data.cursor(), ctx.store, ctx.policy, user, pessoa,
                                     origin=ctx.origin(request),
                                     projection=ctx.data.care())
        return render("dependente.html", user=user, levels=LEVEL_LABELS,
                      path=request.url.path, record=found,
                      log=access_log(ctx.store, found.person_id), actions=ACTIONS,
                      roles={r.value: r.label for r in Role},
                      vaccines=found.items("vacina"))

    @app.get("/meus-dados/entrar", include_in_schema=False)
    def sign_in(request: Request) -> Response:
        login = Login.new()
        response = RedirectResponse(provider().authorize_url(return_uri(request), login),
                                    status_code=303)
        # Lax: the provider sends the browser back with a top-level GET from its own site
        response.set_cookie(LOGIN_COOKIE, login.cookie(), httponly=True, samesite="lax",
                            max_age=600, path="/meus-dados", secure=secure_cookie(request))
        return response

    @app.get("/meus-dados/retorno", include_in_schema=False)
    def signed_in(request: Request, code: str = "", state: str = "") -> Response:
        chosen = provider()
        login = Login.from_cookie(request.cookies.get(LOGIN_COOKIE))
        try:
            if login is None or not code or state != login.state:
                raise OidcError("entrada não iniciada aqui ou expirada (state não confere)")
            token = chosen.exchange(code[:512], return_uri(request), login.verifier)
            claims = verify_id_token(chosen, token, login.nonce)
            session, user = citizen_session(ctx.store, str(claims["sub"]))
        except (OidcError, AuthError) as error:
            return page(request, PUBLIC_USER, 401, configured=True, login_error=str(error))
        audit_record(ctx.store, username=user.username, role=user.role.value,
                     action="entrar", resource="/meus-dados", origin=ctx.origin(request),
                     reason="gov.br" if not isinstance(chosen, LocalProvider)
                     else "provedor local de desenvolvimento")
        response = RedirectResponse("/meus-dados", status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path="/meus-dados")
        response.set_cookie(COOKIE, session, httponly=True, samesite="strict",
                            max_age=8 * 3600, secure=secure_cookie(request))
        return response

    @app.get("/meus-dados/fhir", include_in_schema=False)
    async def mine_fhir(request: Request) -> Response:
        user = viewer(request)
        ctx.policy.own_record_key(user)

        def made() -> dict[str, Any]:
            found, _ = open_own_record(ctx.data.cursor(), ctx.store, ctx.policy, user,
                                       action=ACTION_FHIR, origin=ctx.origin(request),
                                       projection=ctx.data.care())
            return patient_summary(found)

        try:
            bundle = await run_in_threadpool(made)
        except PersonNotFound as error:
            raise HTTPException(404, str(error)) from None
        return Response(json.dumps(bundle, ensure_ascii=False, default=str),
                        media_type="application/fhir+json", headers={
                            "Content-Disposition": 'attachment; filename="meus-dados.json"'})

    @app.post("/meus-dados/correcao", include_in_schema=False)
    def report(request: Request, texto: str = Form(..., max_length=2000)) -> Response:
        user = viewer(request)
        ctx.policy.own_record_key(user)
        try:
            found, _ = open_own_record(ctx.data.cursor(), ctx.store, ctx.policy, user,
                                       action=ACTION_REPORT, origin=ctx.origin(request),
                                       projection=ctx.data.care())
            submit_report(ctx.store, user.username, found.person_id,
                          found.residence_municipality, texto)
        except (PersonNotFound, ValueError) as error:
            return page(request, user, 422, missing=str(error))
        return RedirectResponse("/meus-dados?enviado=1", status_code=303)

    @app.get("/correcoes", response_class=HTMLResponse, include_in_schema=False)
    def review_queue(request: Request) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            return RedirectResponse("/entrar?proxima=/correcoes", status_code=303)
        reports = open_reports(ctx.store, ctx.scope(user))
        glass = broken_glass(ctx.store, ctx.scope(user))
        ctx.audit(request, user, "leitura_restrita", reason="fila de correções")
        return render("correcoes.html", user=user, levels=LEVEL_LABELS, path=request.url.path,
                      reports=reports, glass=glass, municipalities=ctx.data.municipalities)

    @app.post("/correcoes/{aviso}/resolver", include_in_schema=False)
    def resolve(request: Request, aviso: int) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            raise AccessDenied("é preciso entrar para ver este recurso", signed_in=False)
        try:
            done = resolve_report(ctx.store, ctx.scope(user), aviso, user.username)
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
        audit_record(ctx.store, username=user.username, role=user.role.value,
                     action="revisar_aviso", resource=person_resource(done.person_id),
                     territory=done.municipality, origin=ctx.origin(request),
                     reason=f"aviso={aviso}")
        return RedirectResponse("/correcoes", status_code=303)

    @app.post("/correcoes/quebras/{seq}/parecer", include_in_schema=False)
    def judge(request: Request, seq: int, parecer: str = Form(..., max_length=20),
              observacao: str = Form("", max_length=600)) -> Response:
        user = viewer(request)
        if user.role is Role.PUBLIC:
            raise AccessDenied("é preciso entrar para ver este recurso", signed_in=False)
        try:
            judge_glass(ctx.store, ctx.scope(user), seq, parecer, observacao,
                        username=user.username, origin=ctx.origin(request))
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
        return RedirectResponse("/correcoes", status_code=303)

    # ------------------------------------------------- the development provider's page
    def local() -> LocalProvider:
        chosen = app.state.oidc
        if not isinstance(chosen, LocalProvider):
            raise HTTPException(404, "provedor local desligado (oidc_issuer não é 'local')")
        return chosen

    def same_site(request: Request, redirect_uri: str) -> None:
        if redirect_uri != return_uri(request):
            raise HTTPException(422, "endereço de retorno não é o deste serviço")

    @app.get("/oidc-local/autorizar", response_class=HTMLResponse, include_in_schema=False)
    def local_form(request: Request, redirect_uri: str = "", state: str = "",
                   nonce: str = "", code_challenge: str = "", client_id: str = "",
                   code_challenge_method: str = "", scope: str = "",
                   response_type: str = "") -> Response:
        chosen = local()
        same_site(request, redirect_uri)
        if client_id != chosen.client_id or code_challenge_method != "S256" \
                or response_type != "code":
            raise HTTPException(422, "pedido de autorização inválido")
        return render("oidc_local.html", user=PUBLIC_USER, levels=LEVEL_LABELS,
                      path=request.url.path, redirect_uri=redirect_uri, state=state,
                      nonce=nonce, code_challenge=code_challenge)

    @app.post("/oidc-local/autorizar", include_in_schema=False)
    def local_issue(request: Request, cpf: str = Form(..., max_length=14),
                    redirect_uri: str = Form(..., max_length=300),
                    state: str = Form(..., max_length=100),
                    nonce: str = Form(..., max_length=100),
                    code_challenge: str = Form(..., max_length=100)) -> Response:
        chosen = local()
        same_site(request, redirect_uri)
        digits = "".join(ch for ch in cpf if ch.isdigit())
        if len(digits) != 11:
            raise HTTPException(422, "CPF deve ter 11 dígitos")
        code = chosen.issue(digits, nonce, code_challenge, redirect_uri)
        query = urllib.parse.urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=303)
