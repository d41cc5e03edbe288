"""The record page's person part (rmds.care.html), written in Python for speed and kept
whole for heavy records, is exactly what the template it replaced wrote, escaping
included."""

from __future__ import annotations

import datetime as dt

from jinja2 import Environment

from rmds.care.html import record_html, timeline_rows
from rmds.care.record import CareItem, CareRecord, Identification

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


# the person's part of prontuario.html as it stood, with the loop above for the timeline
PAGE_PART = (
    "<h2>Identificação como cada fonte registrou</h2>\n"
    '<table id="identificacao"><thead><tr><th>Sistema</th><th>Papel</th><th>Nome</th>'
    "<th>Nascimento</th><th>Sexo</th><th>CNS</th><th>CPF</th><th>Município</th><th>Lote</th>"
    "</tr></thead>\n"
    "<tbody>{% for i in record.identifications %}<tr><td>{{ i.source_system }}</td><td>"
    '{{ i.role }}</td><td>{{ i.name or "—" }}</td><td>{{ i.birth_date.strftime("%d/%m/%Y")'
    ' if i.birth_date else "—" }}</td><td>{{ i.sex or "—" }}</td><td>{{ i.cns or "—" }}'
    '</td><td>{{ i.cpf or "—" }}</td><td>{{ i.residence_municipality or "—" }}</td><td>'
    "{{ i.batch_id }}</td></tr>{% endfor %}</tbody></table>\n"
    '{% if record.conflicts %}<p id="conflitos">Fontes divergem em: '
    '{{ record.conflicts.keys()|join(", ") }}.</p>{% endif %}\n'
    "<h2>Linha do tempo</h2>\n"
    '<table id="linha-do-tempo"><thead><tr><th>Data</th><th>Evento</th><th>Sistema</th>'
    "<th>Estabelecimento</th><th>Lote</th></tr></thead>\n"
    "<tbody>" + TEMPLATE.replace(" in timeline ", " in record.timeline ")
    + "</tbody></table>")


def _ident(**changes: object) -> Identification:
    base: dict[str, object] = {
        "source_system": "SIH", "role": "paciente", "record_key": "1", "source_file": "x",
        "batch_id": 3, "name": "Maria d'Água <Souza>", "mother_name": None,
        "birth_date": dt.date(1980, 2, 1), "sex": "F", "cns": "700000000000005",
        "cpf": None, "residence_municipality": "3106200"}
    return Identification(**{**base, **changes})  # type: ignore[arg-type]


def test_the_page_part_equals_the_template_it_replaced() -> None:
    ids = [_ident(), _ident(source_system="FHIR", batch_id=None, birth_date=None,
                            name=None, cpf="12345678909", sex=None)]
    timeline = [_item(), _item(kind="encaminhamento", details={"posicao_fila": 2})]
    env = Environment(autoescape=True)
    for conflicts in ({}, {"name": ["A", "B"], "birth_date": ["1980-02-01", "1980-02-02"]}):
        record = CareRecord(9, ids, conflicts, "3106200", timeline)
        expected = env.from_string(PAGE_PART).render(record=record)
        assert record_html(record) == expected
    assert "Maria d&#39;Água &lt;Souza&gt;" in expected and 'id="conflitos"' in expected
