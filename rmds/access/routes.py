"""Every way out of rmds, registered with the data class it serves.

Each API route, page, download and CLI command is listed here once. The app refuses to
start with a route missing from :data:`ROUTES` (:func:`unregistered`), and the tests walk
the app's routes and the CLI's commands against these tables, so a new way out cannot skip
the access policy. Ways out that carry no lake data say which kind they are (:class:`Open`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from rmds.access.policy import DataClass

__all__ = ["COMMANDS", "ROUTES", "Open", "RouteClass", "unregistered"]


class Open(StrEnum):
    """Ways out without lake data."""

    SERVICE = "servico"          # anyone: health, catalog, territory, docs, static files
    SESSION = "sessao"           # login, logout, who am I, each role's home
    PORTFOLIO = "carteira"       # the strategic portfolio: any signed-in user (edits: its rules)
    OPERATION = "operacao"       # CLI commands that build, load or administer, printing no data
    ADMINISTRATION = "administracao"  # users: the administrator alone (require_administrator)
    OWN = "titular"              # the citizen's own data, by the CPF gov.br vouched for
    #                              (AccessPolicy.own_record_key): nobody else's, for nobody else


RouteClass = DataClass | Open

_A, _S, _R, _I, _C = DataClass.AGGREGATE, DataClass.SMALL_CELL, DataClass.RECORD, \
    DataClass.IDENTITY, DataClass.CARE

#: (method, path) → what it serves
ROUTES: dict[tuple[str, str], RouteClass] = {
    # service and session
    ("GET", "/api/saude"): Open.SERVICE,
    ("POST", "/api/sessao"): Open.SESSION,
    ("DELETE", "/api/sessao"): Open.SESSION,
    ("GET", "/api/eu"): Open.SESSION,
    ("GET", "/api/territorio/{nivel}"): Open.SERVICE,
    ("GET", "/api/indicadores"): Open.SERVICE,
    ("GET", "/api/indicadores/{indicador}"): Open.SERVICE,
    ("GET", "/openapi.json"): Open.SERVICE,
    ("GET", "/docs"): Open.SERVICE,
    ("GET", "/static"): Open.SERVICE,
    # indicators
    ("GET", "/api/indicadores/{indicador}/valores"): _S,
    ("GET", "/api/indicadores/{indicador}/serie"): _S,
    ("GET", "/api/indicadores/{indicador}/ranking"): _S,
    ("GET", "/api/mapa/{indicador}"): _S,
    ("GET", "/api/tabulador"): _S,
    # quality, loads
    ("GET", "/api/qualidade"): _A,
    ("GET", "/api/qualidade/{municipio}"): _R,
    ("GET", "/api/cargas"): _R,
    ("GET", "/api/quarentena"): _I,
    # consortia and queues
    ("GET", "/api/consorcios"): _A,
    ("GET", "/api/consorcios/{sigla}"): _S,
    ("GET", "/api/filas"): _R,
    # portfolio
    ("GET", "/api/carteira"): Open.PORTFOLIO,
    ("GET", "/api/carteira/projetos/{projeto}"): Open.PORTFOLIO,
    ("POST", "/api/carteira/projetos/{projeto}/status"): Open.PORTFOLIO,
    ("PUT", "/api/carteira/marcos/{marco}"): Open.PORTFOLIO,
    ("POST", "/api/carteira/projetos/{projeto}/pontos-criticos"): Open.PORTFOLIO,
    ("POST", "/api/carteira/pontos-criticos/{ponto}/escalar"): Open.PORTFOLIO,
    ("POST", "/api/carteira/pontos-criticos/{ponto}/resolver"): Open.PORTFOLIO,
    ("GET", "/api/carteira/relatorio"): Open.PORTFOLIO,
    # FHIR: bundles carry identity data
    ("POST", "/fhir"): _I,
    # care: one person's record (rmds.care), the policy's care rule
    ("POST", "/api/prontuario"): _C,
    ("GET", "/fhir/Patient/{pessoa}/$summary"): _C,
    # pages
    ("GET", "/"): _S,
    ("GET", "/tabulador"): _S,
    ("GET", "/municipio/{codigo}"): _S,
    ("GET", "/unidade/{nivel}/{codigo}"): _S,
    ("GET", "/qualidade/{codigo}"): _R,
    ("GET", "/metodos"): Open.SERVICE,
    ("GET", "/busca"): Open.SERVICE,
    ("POST", "/carteira/projeto/{projeto}/status"): Open.PORTFOLIO,
    ("POST", "/carteira/marco/{marco}"): Open.PORTFOLIO,
    ("POST", "/carteira/projeto/{projeto}/ponto-critico"): Open.PORTFOLIO,
    ("POST", "/carteira/ponto-critico/{ponto}/escalar"): Open.PORTFOLIO,
    ("POST", "/carteira/ponto-critico/{ponto}/resolver"): Open.PORTFOLIO,
    ("GET", "/usuarios"): Open.ADMINISTRATION,
    ("POST", "/usuarios/{usuario}/senha"): Open.ADMINISTRATION,
    ("POST", "/usuarios/{usuario}/ativo"): Open.ADMINISTRATION,
    ("GET", "/qualidade"): _A,
    ("GET", "/consorcios"): _A,
    ("GET", "/consorcio/{sigla}"): _S,
    ("GET", "/filas"): _R,
    ("GET", "/cargas"): _R,
    ("GET", "/carteira"): Open.PORTFOLIO,
    ("GET", "/carteira/projeto/{projeto}"): Open.PORTFOLIO,
    ("GET", "/carteira/pauta"): Open.PORTFOLIO,
    ("GET", "/carteira/relatorio"): Open.PORTFOLIO,
    ("GET", "/carteira/relatorio.pdf"): Open.PORTFOLIO,
    ("GET", "/prontuario"): _C,
    ("POST", "/prontuario"): _C,
    ("GET", "/correcoes"): _C,             # citizens' reports: the municipality's review
    ("POST", "/correcoes/{aviso}/resolver"): _C,
    ("POST", "/correcoes/quebras/{seq}/parecer"): _C,   # the verdict on a broken glass
    ("GET", "/listas"): _C,                # work lists: counts of named people, downloads
    ("GET", "/listas/{lista}.csv"): _C,
    ("GET", "/api/listas"): _C,
    ("GET", "/api/listas/{lista}"): _C,
    ("GET", "/meus-dados"): Open.OWN,
    ("GET", "/meus-dados/fhir"): Open.OWN,
    ("GET", "/meus-dados/dependentes/{pessoa}"): Open.OWN,   # a minor child, as the mother
    ("POST", "/meus-dados/correcao"): Open.OWN,
    ("GET", "/meus-dados/entrar"): Open.SESSION,
    ("GET", "/meus-dados/retorno"): Open.SESSION,
    ("GET", "/oidc-local/autorizar"): Open.SESSION,   # the development identity provider
    ("POST", "/oidc-local/autorizar"): Open.SESSION,
    ("GET", "/entrar"): Open.SESSION,
    ("POST", "/entrar"): Open.SESSION,
    ("GET", "/sair"): Open.SESSION,
    ("GET", "/inicio"): Open.SESSION,
}

#: CLI command → the most protected class it can print or write out. The command line is
#: run by the server's operator (:data:`rmds.access.policy.OPERATOR`); commands with a
#: public form (``--public``, the default of ``indicators export``) ask the policy for it.
COMMANDS: dict[str, RouteClass] = {
    "reference check": Open.SERVICE,
    "reference sync": Open.OPERATION,     # builds and installs a new reference pack version
    "reference versions": Open.SERVICE,
    "reference replicate": Open.SERVICE,  # writes a multi-UF pack into a new folder
    "territory show": Open.SERVICE,
    "territory list": Open.SERVICE,
    "read": _I,
    "ingest": Open.OPERATION,
    "batches": _R,
    "quarantine": _I,
    "export parquet": _I,
    "link": Open.OPERATION,
    "link evaluate": Open.OPERATION,
    "link review": _I,
    "synth": Open.OPERATION,
    "indicators list": Open.SERVICE,
    "indicators compute": Open.OPERATION,
    "indicators show": _S,
    "indicators export": _S,
    "quality report": _R,
    "serve": Open.OPERATION,
    "users add": Open.OPERATION,
    "users list": Open.OPERATION,
    "users disable": Open.OPERATION,
    "users facilities": Open.OPERATION,
    "audit verify": Open.OPERATION,
    "consortia import": Open.OPERATION,
    "consortia list": _A,
    "consortia report": _S,
    "portfolio list": Open.PORTFOLIO,
    "portfolio status": Open.PORTFOLIO,
    "portfolio milestone": Open.PORTFOLIO,
    "portfolio critical": Open.PORTFOLIO,
    "portfolio report": Open.PORTFOLIO,
    "snapshots": Open.OPERATION,              # the lake's commits: ids, times, counts
    "snapshots files": Open.OPERATION,
    "snapshots expire": Open.OPERATION,
    "snapshots compact": Open.OPERATION,
    "settings": Open.SERVICE,
    "demo": Open.OPERATION,
    "patient show": _C,
    "access-log": _C,
    "worklists list": Open.SERVICE,
    "worklists compute": _A,          # counts per municipality, no one named
    "worklists export": _C,           # named people: one audit entry each
    "fetch": Open.OPERATION,          # downloads public DATASUS files, prints no data
    "sync": Open.OPERATION,           # fetch → ingest → link → compute, prints counts
}


def unregistered(routes: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (method, path) pairs not in :data:`ROUTES`."""
    return sorted(r for r in routes if r not in ROUTES)
