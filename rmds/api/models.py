"""The API's answers, typed (pydantic), in one naming language: Portuguese field names.

The service reads the mart with its own (English) column names; :func:`cell_out` is the one
place where an indicator cell takes its API names (:data:`CELL_FIELDS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["CELL_FIELDS", "Catalogo", "Celula", "CelulaMapa", "Consorcio", "Fila",
           "ItemEspera", "ItemFila", "Mapa", "Membro", "Producao", "Qualidade", "Saude",
           "Serie", "Sessao", "Unidade", "Usuario", "Valores", "cell_out"]

#: mart column → API field
CELL_FIELDS = {
    "indicator_id": "indicador", "level": "nivel", "unit_code": "unidade",
    "unit_name": "nome_unidade", "vintage": "recorte", "period_type": "tipo_periodo",
    "period": "periodo", "year": "ano", "numerator": "numerador",
    "denominator": "denominador", "value": "valor", "ci_low": "ic_inferior",
    "ci_high": "ic_superior", "smoothed": "suavizado", "suppressed": "suprimido",
    "posicao": "posicao",
}


def cell_out(row: Mapping[str, Any]) -> dict[str, Any]:
    """An indicator cell under its API names."""
    return {CELL_FIELDS[k]: v for k, v in row.items()}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Forma = Literal["publica", "restrita"]


class Celula(_Model):
    """Uma célula de indicador; na forma pública, célula pequena vem em branco."""

    indicador: str
    nivel: str
    unidade: str
    nome_unidade: str | None
    recorte: str
    tipo_periodo: str
    periodo: str
    ano: int
    numerador: float | None
    denominador: float | None
    valor: float | None
    ic_inferior: float | None
    ic_superior: float | None
    suavizado: float | None
    suprimido: bool
    posicao: int | None = None


class Valores(_Model):
    indicador: str
    nivel: str
    periodo: str
    forma: Forma
    valores: list[Celula]


class Serie(_Model):
    indicador: str
    nivel: str
    unidade: str
    tipo: str
    forma: Forma
    valores: list[Celula]


class CelulaMapa(_Model):
    unidade: str
    valor: float | None
    suprimido: bool


class Mapa(_Model):
    indicador: str
    nivel: str
    periodo: str
    forma: Forma
    municipios: dict[str, CelulaMapa]


class Catalogo(_Model):
    objetivos: dict[str, str]
    indicadores: list[dict[str, Any]]


class Unidade(_Model):
    codigo: str
    nome: str


class Saude(_Model):
    status: str
    versao: str
    aquecido: bool


class Sessao(_Model):
    token: str
    usuario: str
    papel: str
    escopo: str


class Usuario(_Model):
    usuario: str
    papel: str
    papel_nome: str
    escopo: str


class Qualidade(_Model):
    municipio: str
    nome: str
    nota: float | None
    nivel: str
    o_que_mais_pesa: list[str]


class Membro(_Model):
    municipio: str
    nome: str


class Producao(_Model):
    realizados: float | None
    por_mil_habitantes: float | None
    viagens_transporte: float | None
    pessoas_transportadas: float | None
    oncologia_60_dias_pct: float | None
    suprimidos: list[str] = []


class ItemEspera(_Model):
    tipo: str
    realizados: int | None
    espera_mediana_dias: float | None
    espera_p90_dias: float | None
    suprimido: bool = False


class ItemFila(_Model):
    tipo: str
    na_fila: int | None
    idade_mediana_dias: float | None
    idade_p90_dias: float | None
    mais_antigo_dias: int | None
    suprimido: bool = False


class Consorcio(_Model):
    sigla: str
    nome: str
    ano: int
    data_de_referencia: str
    membros: list[Membro]
    populacao_coberta: float | None
    producao: Producao
    esperas: list[ItemEspera]
    fila: list[ItemFila]
    rol: dict[str, Any]
    fonte_dos_membros: list[str]
    forma: Forma
    oncologia_contagens: dict[str, float | None] | None = None


class Fila(_Model):
    data_de_referencia: str
    resumo: list[ItemFila]
    itens: list[dict[str, Any]]
