"""Who sees what: the one access policy of rmds.

Every answer that carries lake data (API routes, pages, CLI output, exports and downloads)
is decided here, from three things:

* the caller's **role** (:class:`rmds.store.auth.Role`; the public is a role too);
* where the datum lies against the caller's territorial scope: **inside** or **outside**
  (:class:`Place`). State roles hold the whole state, so for them everything is inside; the
  public, the strategy office and project managers hold no territory, so for them
  everything is outside;
* the **data class** (:class:`DataClass`): an aggregate, a small cell (an aggregate whose
  count is from 1 to ``threshold − 1``), a record-level row without identification (a
  referral in a queue, a municipality's detailed diagnosis, a load), identity data
  (names, CNS, CPF, addresses: quarantined rows, protected exports, FHIR bundles), or the
  **care record** of one person (their record across levels, a work list of named people:
  :mod:`rmds.care`). The care record is for whoever cares for the person, not for
  management: only the health professional of the person's municipality opens it, with a
  stated purpose of use (:class:`Purpose`); outside that municipality only by breaking the
  glass with a written justification (:data:`Decision.BREAK_GLASS`), which the
  municipality reviews; managers, analysts and the public never (:meth:`AccessPolicy.care`).
  The citizen holds no territory and reads like the public, with one exception: their own
  record, found by the CPF their identity provider vouched for
  (:meth:`AccessPolicy.own_record_key`), and their children under 18 for whom a birth
  record (SINASC) names them the mother (:meth:`AccessPolicy.guardian_may_open`).

Writes of identity data (a FHIR Bundle) are placed the same way, by the residence of every
patient written about (:meth:`AccessPolicy.require_write`).

The answer is a :class:`Decision`: allow, answer in the public form (small cells blank and
flagged ``suprimido``), or deny. :data:`RULES` is the whole table, written out cell by cell
so that it can be read and tested; :class:`AccessPolicy` applies it with the territorial
scopes of the reference pack and the consortium roster, and owns the suppression rule
(:meth:`AccessPolicy.is_small`, :data:`CELL_MASKED`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rmds.store.auth import Role, User
from rmds.territory import Level, Vintage
from rmds.territory.model import BUILTIN_VINTAGES

__all__ = ["CELL_MASKED", "GUARDIAN_MAX_AGE", "MIN_JUSTIFICATION", "OPERATOR", "RULES",
           "AccessDenied", "AccessPolicy", "CareGrant", "DataClass", "Decision", "Place",
           "Purpose", "Scope", "decide"]

#: a parent sees their child's record until the child turns this age (ECA, Lei 8.069/1990;
#: Código Civil art. 1.630: parental authority over minors)
GUARDIAN_MAX_AGE = 18

#: the fields of an indicator cell blanked in the public form of a small cell
CELL_MASKED = ("numerator", "denominator", "value", "ci_low", "ci_high", "smoothed")

#: who runs the command line: the operator of the server, who holds the lake file itself
OPERATOR = User(0, "cli", Role.ADMIN, None, None)


class DataClass(StrEnum):
    AGGREGATE = "agregado"
    SMALL_CELL = "celula_pequena"
    RECORD = "registro"
    IDENTITY = "identificacao"
    CARE = "prontuario"


class Place(StrEnum):
    INSIDE = "dentro"
    OUTSIDE = "fora"


class Decision(StrEnum):
    ALLOW = "permitido"
    PUBLIC_FORM = "forma_publica"
    DENY = "negado"
    BREAK_GLASS = "quebra_de_vidro"    # allowed only with a written justification, reviewed


class Purpose(StrEnum):
    """Why a care record is opened (purpose of use, LGPD art. 6 I and 11 II f)."""

    CARE = "cuidado"
    COORDINATION = "coordenacao_cuidado"
    AUDIT = "auditoria"

    @property
    def label(self) -> str:
        return {"cuidado": "Cuidado ao paciente", "coordenacao_cuidado": "Coordenação do cuidado",
                "auditoria": "Auditoria"}[self.value]


#: the shortest written justification accepted for breaking the glass
MIN_JUSTIFICATION = 20


@dataclass(frozen=True)
class CareGrant:
    """A care record opened: why, and whether the glass was broken (and the reason)."""

    purpose: Purpose
    break_glass: bool
    justification: str | None

    @property
    def reason(self) -> str:
        """The audit entry's reason: the purpose, and the justification when the glass was
        broken (the municipality's review reads it)."""
        text = f"finalidade={self.purpose.value}"
        if self.break_glass:
            text += f"; quebra_de_vidro: {self.justification}"
        return text


class AccessDenied(PermissionError):
    """A request the policy denies; ``signed_in`` tells 403 (known caller) from 401."""

    def __init__(self, message: str, *, signed_in: bool) -> None:
        super().__init__(message)
        self.signed_in = signed_in

    @property
    def status(self) -> int:
        return 403 if self.signed_in else 401


_STATE = (Role.ADMIN, Role.STATE_ANALYST)
_SCOPED = (Role.REGIONAL, Role.MUNICIPAL, Role.CONSORTIUM, Role.PROFESSIONAL)
_NO_TERRITORY = (Role.STRATEGY_OFFICE, Role.PROJECT_MANAGER, Role.CITIZEN, Role.PUBLIC)


def _table() -> dict[tuple[Role, Place, DataClass], Decision]:
    allow, public, deny = Decision.ALLOW, Decision.PUBLIC_FORM, Decision.DENY
    inside, outside = Place.INSIDE, Place.OUTSIDE
    rules: dict[tuple[Role, Place, DataClass], Decision] = {}
    for role in Role:
        for place in Place:
            rules[role, place, DataClass.AGGREGATE] = allow
    for role in _STATE:
        for place in Place:
            for cls in (DataClass.SMALL_CELL, DataClass.RECORD, DataClass.IDENTITY):
                rules[role, place, cls] = allow
    for role in _SCOPED:
        rules[role, inside, DataClass.SMALL_CELL] = allow
        rules[role, outside, DataClass.SMALL_CELL] = public
        rules[role, inside, DataClass.RECORD] = allow
        rules[role, outside, DataClass.RECORD] = deny
        # identity data: only whoever cares for the patient, in their own municipality
        rules[role, inside, DataClass.IDENTITY] = allow if role is Role.PROFESSIONAL else deny
        rules[role, outside, DataClass.IDENTITY] = deny
    for role in _NO_TERRITORY:
        for place in Place:
            rules[role, place, DataClass.SMALL_CELL] = public
            rules[role, place, DataClass.RECORD] = deny
            rules[role, place, DataClass.IDENTITY] = deny
    # the care record: never for management (state analysts, managers, the public); the
    # professional in their municipality, elsewhere only by breaking the glass; the
    # administrator (the operator) only for audit (:meth:`AccessPolicy.care`)
    for role in Role:
        for place in Place:
            rules[role, place, DataClass.CARE] = deny
    rules[Role.PROFESSIONAL, inside, DataClass.CARE] = allow
    rules[Role.PROFESSIONAL, outside, DataClass.CARE] = Decision.BREAK_GLASS
    for place in Place:
        rules[Role.ADMIN, place, DataClass.CARE] = allow
    return rules


#: role × place × data class → decision, every cell written out
RULES: Mapping[tuple[Role, Place, DataClass], Decision] = _table()


def require_administrator(role: Role) -> None:
    """Users (passwords, enabling and disabling) are administered by the administrator role
    alone: the one rule, for the pages and the API."""
    if role is not Role.ADMIN:
        raise AccessDenied("só o administrador gerencia usuários",
                           signed_in=role is not Role.PUBLIC)


def decide(role: Role, place: Place, cls: DataClass) -> Decision:
    return RULES[role, place, cls]


@dataclass(frozen=True)
class Scope:
    """The units a user holds (``everything`` for the state roles). Hashable: two users
    with equal scopes and roles get equal answers, which is what the answer cache keys on."""

    role: Role
    everything: bool
    units: frozenset[tuple[str, str]] = frozenset()

    def covers(self, level: str, code: str) -> bool:
        return self.everything or (level, code) in self.units

    def place(self, level: str, code: str) -> Place:
        return Place.INSIDE if self.covers(level, code) else Place.OUTSIDE

    @property
    def municipalities(self) -> frozenset[str] | None:
        """The municipalities held (``None``: all of them)."""
        if self.everything:
            return None
        return frozenset(code for level, code in self.units
                         if level == Level.MUNICIPALITY.value)

    @property
    def signed_in(self) -> bool:
        return self.role is not Role.PUBLIC


#: municipality → codes of the units of a level it belongs to, in a vintage
ParentsOf = Callable[[str, Vintage], Mapping[str, list[str]]]


class AccessPolicy:
    """The table applied: scopes from the territory, decisions, masking and suppression."""

    def __init__(self, parents_of: ParentsOf | None, threshold: int = 5,
                 vintages: Sequence[Vintage] = BUILTIN_VINTAGES) -> None:
        """``parents_of`` places municipalities in units, in each of the pack's
        ``vintages``; without it (the command line, whose actors hold no territory or all
        of it) a scoped user cannot be placed."""
        if threshold < 1:
            raise ValueError("o limiar de células pequenas deve ser positivo")
        self.parents_of = parents_of
        self.vintages = tuple(vintages)
        self.threshold = threshold

    # ---------------------------------------------------------------- scope
    def scope(self, user: User) -> Scope:
        """The units whose restricted data ``user`` may read."""
        role = user.role
        if role in _STATE:
            return Scope(role, True)
        if (role not in _SCOPED or user.scope_code is None
                or user.scope_level not in {level.value for level in Level}):
            return Scope(role, False)
        code = user.scope_code
        units: set[tuple[str, str]] = {(str(user.scope_level), code)}
        if user.scope_level != Level.MUNICIPALITY.value:
            if self.parents_of is None:
                raise ValueError("política sem território: não situa um papel regional")
            level = str(user.scope_level)
            for vintage in self.vintages:
                for municipality, parents in self.parents_of(level, vintage).items():
                    if code in parents:
                        units.add((Level.MUNICIPALITY.value, municipality))
        return Scope(role, False, frozenset(units))

    # ------------------------------------------------------------ decisions
    def decide(self, scope: Scope, cls: DataClass, level: str | None = None,
               code: str | None = None) -> Decision:
        """The decision for a datum of ``cls`` at unit (``level``, ``code``); without a
        unit, for data that spans the whole state (inside only for the state roles)."""
        place = scope.place(level, code) if level is not None and code is not None else (
            Place.INSIDE if scope.everything else Place.OUTSIDE)
        return decide(scope.role, place, cls)

    def require(self, scope: Scope, cls: DataClass, level: str | None = None,
                code: str | None = None) -> None:
        """Raise :class:`AccessDenied` unless the datum may be read in some form."""
        if self.decide(scope, cls, level, code) is Decision.DENY:
            if not scope.signed_in:
                raise AccessDenied("é preciso entrar para ver este recurso", signed_in=False)
            raise AccessDenied("seu papel ou território não dá acesso a este recurso",
                               signed_in=True)

    def require_write(self, scope: Scope, residences: Iterable[str | None]) -> None:
        """Writes are scoped like reads: identity data about patients resident in each of
        ``residences`` (municipality codes; ``None`` for a patient that cannot be placed)
        may be written only by whom the table lets read it there. A write about no
        patient at all needs the role to hold identity data somewhere."""
        if not self.may_read_somewhere(scope.role, DataClass.IDENTITY):
            self.require(scope, DataClass.IDENTITY)
        for municipality in sorted(set(residences), key=lambda m: m or ""):
            if municipality is None:
                if self.decide(scope, DataClass.IDENTITY) is Decision.DENY:
                    raise AccessDenied(
                        "o pacote traz paciente sem município de residência conhecido (ou "
                        "referência a paciente que não está no pacote); só os papéis "
                        "estaduais podem enviá-lo", signed_in=scope.signed_in)
            elif self.decide(scope, DataClass.IDENTITY, Level.MUNICIPALITY.value,
                             municipality) is Decision.DENY:
                raise AccessDenied(
                    f"o pacote traz paciente residente no município {municipality}, fora do "
                    "seu território; a escrita foi recusada", signed_in=scope.signed_in)

    def care(self, scope: Scope, residence: str | None, purpose: str | None,
             justification: str | None = None) -> CareGrant:
        """May ``scope`` open the care record of a person living in ``residence`` (a
        municipality; ``None`` when no source recorded one: outside everyone's territory)?
        A purpose of use is required; the administrator opens records only to audit;
        outside the professional's municipality only with a written justification of at
        least :data:`MIN_JUSTIFICATION` characters. Raises :class:`AccessDenied`."""
        place = scope.place("municipio", residence) if residence else (
            Place.INSIDE if scope.everything else Place.OUTSIDE)
        decision = decide(scope.role, place, DataClass.CARE)
        if decision is Decision.DENY:
            if not scope.signed_in:
                raise AccessDenied("é preciso entrar para ver este recurso", signed_in=False)
            raise AccessDenied("o prontuário é só para quem cuida do paciente: seu papel não "
                               "dá acesso a registros individuais de cuidado", signed_in=True)
        try:
            chosen = Purpose(purpose or "")
        except ValueError:
            raise AccessDenied("informe a finalidade do acesso: " + ", ".join(
                p.value for p in Purpose), signed_in=True) from None
        if scope.role is Role.ADMIN and chosen is not Purpose.AUDIT:
            raise AccessDenied("o administrador só abre prontuários para auditoria",
                               signed_in=True)
        if decision is Decision.BREAK_GLASS:
            text = " ".join((justification or "").split())
            if len(text) < MIN_JUSTIFICATION:
                raise AccessDenied(
                    "paciente residente fora do seu município: só por quebra de vidro, com "
                    f"justificativa escrita (ao menos {MIN_JUSTIFICATION} caracteres), que "
                    "o município de residência revisa", signed_in=True)
            return CareGrant(chosen, True, text)
        return CareGrant(chosen, False, None)

    @staticmethod
    def own_record_key(user: User) -> str:
        """The one care record a citizen opens: their own, found by the CPF their identity
        provider vouched for at sign-in (never by a number typed in a form). For the table
        the citizen is like the public (no territory, no record of anyone); this is the
        single exception, and it holds for nobody else."""
        if user.role is not Role.CITIZEN or not user.scope_code:
            raise AccessDenied("'Meus dados' é a página do cidadão, com a própria conta "
                               "gov.br", signed_in=user.role is not Role.PUBLIC)
        return user.scope_code

    @staticmethod
    def guardian_may_open(user: User, child_age: int | None) -> None:
        """A citizen opens the record of a child of theirs as the legal guardian: a child
        the index ties to them as the mother named in the child's birth record (the caller
        checks the tie and gives the child's age in completed years), while the child is
        under :data:`GUARDIAN_MAX_AGE` (ECA: parental authority until 18). Raises
        AccessDenied otherwise."""
        AccessPolicy.own_record_key(user)
        if child_age is None or child_age >= GUARDIAN_MAX_AGE:
            raise AccessDenied("o responsável vê o prontuário do filho só até os 18 anos; "
                               "depois, cada um entra com a própria conta", signed_in=True)

    def may_read_somewhere(self, role: Role, cls: DataClass) -> bool:
        """Whether ``role`` is allowed ``cls`` in at least one place (else: refuse early)."""
        return any(decide(role, place, cls) is not Decision.DENY for place in Place)

    # ---------------------------------------------------------- suppression
    def is_small(self, count: float | int | None) -> bool:
        """The suppression rule: a count from 1 to ``threshold − 1``."""
        return count is not None and 0 < count < self.threshold

    def mask_cells(self, rows: Iterable[Mapping[str, Any]], level: str, scope: Scope
                   ) -> tuple[list[dict[str, Any]], bool]:
        """Indicator cells (restricted form, ``suppressed`` computed by the mart with this
        rule) as ``scope`` may see them; and whether any small cell is shown open."""
        out: list[dict[str, Any]] = []
        restricted = False
        for row in rows:
            if row["suppressed"]:
                if self.decide(scope, DataClass.SMALL_CELL, level, row["unit_code"]) \
                        is Decision.ALLOW:
                    restricted = True
                else:
                    out.append({**row, **dict.fromkeys(CELL_MASKED)})
                    continue
            out.append(dict(row))
        return out, restricted

    def whole_state_public(self, scope: Scope) -> bool:
        """Whether the mart of the whole state (an export, a listing for a level) must be
        in the public form for ``scope``. It cannot be masked unit by unit, so only the
        state roles (allowed everywhere) and the roles in the public form everywhere get
        one; anyone else is refused."""
        inside = decide(scope.role, Place.INSIDE, DataClass.SMALL_CELL)
        outside = decide(scope.role, Place.OUTSIDE, DataClass.SMALL_CELL)
        if scope.everything and inside is Decision.ALLOW:
            return False
        if not scope.units and outside is Decision.PUBLIC_FORM:
            return True
        raise AccessDenied("a exportação do estado inteiro só sai na forma pública ou para "
                           "os papéis estaduais", signed_in=scope.signed_in)

    def consortium_form(self, overview: dict[str, Any], scope: Scope
                        ) -> tuple[dict[str, Any], bool]:
        """A consortium's overview as ``scope`` may see it, with ``forma``; and whether a
        small count is shown in it (a restricted read, to audit). Outside the caller's
        territory, every count from 1 to ``threshold − 1`` (production, transport, waits,
        queue) is blank, with the figures derived from it, and the item says
        ``suprimido``."""
        public = self._consortium_public(overview)
        hides = bool(public["producao"]["suprimidos"]) or any(
            item.get("suprimido") for key in ("esperas", "fila") for item in public[key])
        if self.decide(scope, DataClass.SMALL_CELL, Level.CONSORTIUM.value,
                       str(overview["sigla"])) is Decision.ALLOW:
            return {**overview, "forma": "restrita" if hides else "publica"}, hides
        return {**public, "forma": "publica"}, False

    def _consortium_public(self, overview: dict[str, Any]) -> dict[str, Any]:
        out = dict(overview)
        for key, count in (("esperas", "realizados"), ("fila", "na_fila")):
            out[key] = self._suppress_items(overview[key], count)
        production = dict(overview["producao"])
        hidden: list[str] = []
        # each count, with what is computed from it
        for count, derived in (("realizados", ("por_mil_habitantes",)),
                               ("viagens_transporte", ()), ("pessoas_transportadas", ())):
            if self.is_small(production.get(count)):
                for name in (count, *derived):
                    production[name] = None
                    hidden.append(name)
        oncology = overview.get("oncologia_contagens") or {}
        if any(self.is_small(oncology.get(k)) for k in ("numerador", "denominador")):
            production["oncologia_60_dias_pct"] = None
            hidden.append("oncologia_60_dias_pct")
        production["suprimidos"] = hidden
        out["producao"] = production
        out.pop("oncologia_contagens", None)
        return out

    def _suppress_items(self, items: list[dict[str, Any]], count: str
                        ) -> list[dict[str, Any]]:
        """Items of a breakdown (by service type) with small counts blanked. When exactly
        one is small, the smallest other count goes too (complementary suppression), so
        that the hidden count cannot be had by subtracting the others from a total."""
        hidden = {i for i, item in enumerate(items) if self.is_small(item[count])}
        if len(hidden) == 1:
            others = [(item[count], i) for i, item in enumerate(items)
                      if i not in hidden and item[count]]
            if others:
                hidden.add(min(others)[1])
        return [{**{k: (v if k == "tipo" else None) for k, v in item.items()},
                 "suprimido": True} if i in hidden else item
                for i, item in enumerate(items)]
