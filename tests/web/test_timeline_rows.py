"""The record page's timeline rows, written in Python for speed, are exactly what the
template loop they replaced wrote, escaping included."""

from __future__ import annotations

import datetime as dt

from jinja2 import Environment

from rmds.care.record import CareItem
from rmds.web.care_pages import timeline_rows

# the loop as it stood in prontuario.html
TEMPLATE = (
    '{% for e in timeline %}<tr data-tipo="{{ e.kind }}"><td>{{ e.date.strftime("%d/%m/%Y")'
    ' if e.date else "—" }}</td><td>{{ e.description }}{% if e.details.posicao_fila %} '
    "(posição {{ e.details.posicao_fila }} na fila){% endif %}</td><td>{{ e.source_system }}"
    '</td><td>{{ e.facility_cnes or "—" }}</td><td>{{ e.batch_id }}</td></tr>{% endfor %}')


def _item(**changes: object) -> CareItem:
    base: dict[str, object] = {
        "date": dt.date(2023, 3, 7), "kind": "internacao",
        "description": "Internação, diagnóstico I10, 3 dia(s)", "code": "I10",
        "source_system": "SIH", "facility_cnes": "2222222", "batch_id": 4,
        "source_file": "RDMG2303.dbc", "details": {}}
    return CareItem(**{**base, **changes})  # type: ignore[arg-type]


def test_the_rows_equal_the_template_loop_they_replaced() -> None:
    timeline = [
        _item(),
        _item(date=None, facility_cnes=None, batch_id=None),
        _item(kind="encaminhamento", description="Encaminhamento (consulta <cardio>) — "
              "solicitado", details={"posicao_fila": 12}),
        _item(kind="observacao", description="Observação \"PA\" & 'sistólica': 120 mm[Hg]",
              source_system="FHIR", details={"posicao_fila": None}),
        _item(date=dt.date(999, 1, 2), description="Pingo d'Água"),
        _item(kind='x"><script>', description="<b>&amp;</b>"),
    ]
    expected = Environment(autoescape=True).from_string(TEMPLATE).render(timeline=timeline)
    assert str(timeline_rows(timeline)) == expected
    assert "&lt;script&gt;" in expected and "Pingo d&#39;Água" in expected
