"""The care record as HTML: what the record page (``/prontuario``) shows of the person,
the identification as each source recorded it, the sources' conflicts and the timeline.

Written here, by Python, rather than by template loops (~30 µs a row, most of the page's
time for a person with hundreds of events), and written once for a record kept whole
(:func:`rmds.care.projection.keep_whole`). Every value is escaped as the page's templates
escape (markupsafe's entities).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from rmds.care.record import CareItem, CareRecord, Identification

__all__ = ["record_html", "timeline_rows"]

#: what markupsafe's ``escape`` replaces, with the same entities
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def _e(value: object) -> str:
    return str(value).translate(_HTML)


def _day(d: dt.date | None) -> str:
    if not d:
        return "—"
    return f"{d.day:02d}/{d.month:02d}/{d.year}" if d.year >= 1000 else d.strftime("%d/%m/%Y")


def timeline_rows(timeline: Iterable[CareItem]) -> str:
    """One ``<tr>`` per timeline item: date, event (with its place in a queue), system,
    facility and batch."""
    rows = []
    for e in timeline:
        place = e.details.get("posicao_fila")
        queue = f" (posição {_e(place)} na fila)" if place else ""
        rows.append(f'<tr data-tipo="{_e(e.kind)}"><td>{_day(e.date)}</td><td>'
                    f"{_e(e.description)}{queue}</td><td>{_e(e.source_system)}</td>"
                    f"<td>{_e(e.facility_cnes or '—')}</td><td>{e.batch_id}</td></tr>")
    return "".join(rows)


def _identification_rows(ids: Iterable[Identification]) -> str:
    return "".join(
        f"<tr><td>{_e(i.source_system)}</td><td>{_e(i.role)}</td><td>{_e(i.name or '—')}"
        f"</td><td>{_day(i.birth_date)}</td><td>{_e(i.sex or '—')}</td>"
        f"<td>{_e(i.cns or '—')}</td><td>{_e(i.cpf or '—')}</td>"
        f"<td>{_e(i.residence_municipality or '—')}</td><td>{i.batch_id}</td></tr>"
        for i in ids)


def record_html(record: CareRecord) -> str:
    """The person's part of the record page (the page adds the access it was opened for)."""
    conflicts = (f'<p id="conflitos">Fontes divergem em: {_e(", ".join(record.conflicts))}.'
                 "</p>" if record.conflicts else "")
    return (
        "<h2>Identificação como cada fonte registrou</h2>\n"
        '<table id="identificacao"><thead><tr><th>Sistema</th><th>Papel</th><th>Nome</th>'
        "<th>Nascimento</th><th>Sexo</th><th>CNS</th><th>CPF</th><th>Município</th>"
        "<th>Lote</th></tr></thead>\n"
        f"<tbody>{_identification_rows(record.identifications)}</tbody></table>\n"
        f"{conflicts}\n<h2>Linha do tempo</h2>\n"
        '<table id="linha-do-tempo"><thead><tr><th>Data</th><th>Evento</th><th>Sistema</th>'
        "<th>Estabelecimento</th><th>Lote</th></tr></thead>\n"
        f"<tbody>{timeline_rows(record.timeline)}</tbody></table>")
