"""Opening care records through the API, per role: the professional of the municipality
with a purpose; outside it only by breaking the glass (flagged); management and the public
never; every opening in the audit chain, naming the person by their index number only."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from rmds.store import Store
from rmds.store.audit import verify
from rmds.store.db import AUDIT
from tests.service_fixtures import PASSWORD, token

BH, UDI = "3106200", "3170206"
RESIDENT_SQL = (
    "SELECT l.person_id, any_value(r.cns) FROM person_links l JOIN (SELECT source_system || "
    "'|' || source_file || '|' || coalesce(record_key, CAST(source_row AS VARCHAR)) || '|' "
    "|| role AS uid, residence_municipality AS m, cns FROM identity_records) r "
    "ON l.record_uid = r.uid GROUP BY l.person_id HAVING bool_and(r.m = ?) "
    "AND count(DISTINCT r.cns) = 1 ORDER BY 1 LIMIT 1")
WHY = "paciente em atendimento de urgência no nosso pronto-socorro"


def _resident(client: TestClient, code: str) -> tuple[int, str]:
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    [(pid, cns)] = cursor.execute(RESIDENT_SQL, [code]).fetchall()
    return int(pid), str(cns)


def _entries(store: Store, after: int) -> list[dict[str, object]]:
    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(
            AUDIT.select().where(AUDIT.c.seq > after).order_by(AUDIT.c.seq))]


def _last(store: Store) -> int:
    with store.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.coalesce(sa.func.max(AUDIT.c.seq), 0)))
                   .scalar_one())


def test_the_professional_opens_a_resident_with_a_purpose(
        client: TestClient, store: Store, users: dict[str, str]) -> None:
    pid, cns = _resident(client, BH)
    prof = token(client, "prof")
    before = _last(store)
    refused = client.post("/api/prontuario", json={"pessoa": str(pid)}, headers=prof)
    assert refused.status_code == 403 and "finalidade" in refused.json()["erro"]["mensagem"]
    r = client.post("/api/prontuario", json={"pessoa": cns, "finalidade": "cuidado"},
                    headers=prof)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pessoa"] == pid and body["municipio_residencia"] == BH
    assert body["acesso"] == {"finalidade": "cuidado", "quebra_de_vidro": False,
                              "auditoria": body["acesso"]["auditoria"]}
    assert all(i["batch_id"] is not None for i in body["linha_do_tempo"])
    [entry] = _entries(store, before)
    assert (entry["username"], entry["action"], entry["resource"], entry["territory"],
            entry["reason"]) == ("prof", "abrir_prontuario", f"pessoa:{pid}", BH,
                                 "finalidade=cuidado")
    assert entry["seq"] == body["acesso"]["auditoria"]
    # the CNS given was never written to the audit chain
    assert all(cns not in str(v) for v in entry.values())
    assert verify(store).ok


def test_a_non_resident_only_by_breaking_the_glass_which_is_flagged(
        client: TestClient, store: Store, users: dict[str, str]) -> None:
    pid, _ = _resident(client, UDI)
    prof = token(client, "prof")
    before = _last(store)
    plain = client.post("/api/prontuario", json={"pessoa": str(pid),
                                                 "finalidade": "cuidado"}, headers=prof)
    assert plain.status_code == 403 and "quebra de vidro" in plain.json()["erro"]["mensagem"]
    short = client.post("/api/prontuario", json={"pessoa": str(pid), "finalidade": "cuidado",
                                                 "justificativa": "urgência"}, headers=prof)
    assert short.status_code == 403
    assert _entries(store, before) == []          # refusals open nothing
    r = client.post("/api/prontuario", json={"pessoa": str(pid), "finalidade": "cuidado",
                                             "justificativa": WHY}, headers=prof)
    assert r.status_code == 200, r.text
    assert r.json()["acesso"]["quebra_de_vidro"] is True
    [entry] = _entries(store, before)
    assert (entry["action"], entry["resource"], entry["territory"]) == (
        "quebra_de_vidro", f"pessoa:{pid}", UDI)
    assert entry["reason"] == f"finalidade=cuidado; quebra_de_vidro: {WHY}"


def test_management_analysts_and_the_public_never_open_a_record(
        client: TestClient, store: Store, users: dict[str, str]) -> None:
    pid, _ = _resident(client, BH)
    before = _last(store)
    body = {"pessoa": str(pid), "finalidade": "cuidado", "justificativa": WHY}
    for name in ("ana", "bh", "urs"):          # analyst, BH's own manager, regional
        r = client.post("/api/prontuario", json=body, headers=token(client, name))
        assert r.status_code == 403, (name, r.text)
        # a person who does not exist: the same refusal, nothing told
        ghost = client.post("/api/prontuario", json={**body, "pessoa": "9" * 15},
                            headers=token(client, name))
        assert ghost.status_code == 403, name
    assert client.post("/api/prontuario", json=body).status_code == 401
    # the administrator: only to audit
    adm = token(client, "adm")
    assert client.post("/api/prontuario", json=body, headers=adm).status_code == 403
    audit = client.post("/api/prontuario", json={**body, "finalidade": "auditoria"},
                        headers=adm)
    assert audit.status_code == 200
    assert [e["username"] for e in _entries(store, before)
            if str(e["resource"]).startswith("pessoa:")] == ["adm"]


def test_the_teams_work_lists_page_and_audited_download(
        client: TestClient, store: Store, users: dict[str, str]) -> None:
    from rmds.care.worklists import compute, load_worklists

    prof = token(client, "prof")
    page = client.get("/listas", headers=prof)
    assert page.status_code == 200, page.text
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    icsap = frozenset(client.app.state.ctx.pack.icsap.codes)  # type: ignore[attr-defined]
    lists = load_worklists()
    expected = {k: compute(cursor, wl, icsap=icsap, municipality=BH)
                for k, wl in lists.items()}
    for key, entries in expected.items():
        assert f'data-lista="{key}"' in page.text
        assert f'data-pessoas="{len(entries)}"' in page.text, key
    key = "vacinas_atrasadas_menores_2"
    assert expected[key], "the fixture has children with overdue vaccines in BH"
    before = _last(store)
    csv_answer = client.get(f"/listas/{key}.csv", headers=prof)
    assert csv_answer.status_code == 200 and csv_answer.content.startswith(b"\xef\xbb\xbf")
    lines = csv_answer.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + len(expected[key])
    # one audit entry per person on the list, naming them by index number only
    written = _entries(store, before)
    assert sorted(str(e["resource"]) for e in written) == sorted(
        f"pessoa:{e.person_id}" for e in expected[key])
    assert {(e["action"], e["reason"], e["territory"]) for e in written} == {
        ("baixar_lista", f"lista={key}", BH)}
    # another municipality's list: not even by breaking the glass; management never
    assert client.get(f"/listas?municipio={UDI}", headers=prof).status_code == 403
    for who in ("bh", "ana"):
        assert client.get(f"/listas/{key}.csv", headers=token(client, who)).status_code == 403
    assert client.get(f"/listas/{key}.csv").status_code == 401
    assert verify(store).ok


def test_the_work_lists_as_json_counts_and_audited_people(
        client: TestClient, store: Store, users: dict[str, str]) -> None:
    """``/api/listas``: the page's counts for the team's municipality (not audited: counts
    only); ``/api/listas/{lista}``: the people, one audit entry each, as the CSV."""
    from rmds.care.worklists import compute, load_worklists

    prof = token(client, "prof")
    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    icsap = frozenset(client.app.state.ctx.pack.icsap.codes)  # type: ignore[attr-defined]
    lists = load_worklists()
    expected = {k: compute(cursor, wl, icsap=icsap, municipality=BH)
                for k, wl in lists.items()}
    before = _last(store)
    answer = client.get("/api/listas", headers=prof)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["municipio"] == BH
    assert {x["id"]: x["pessoas"] for x in body["listas"]} == {
        k: len(v) for k, v in expected.items()}
    assert {x["id"]: x["indicador"] for x in body["listas"]} == {
        k: wl.indicator for k, wl in lists.items()}
    assert _entries(store, before) == []
    key = "vacinas_atrasadas_menores_2"
    people = client.get(f"/api/listas/{key}", headers=prof)
    assert people.status_code == 200, people.text
    rows = people.json()["pessoas"]
    assert sorted(r["pessoa"] for r in rows) == sorted(e.person_id for e in expected[key])
    assert {(r["pessoa"], r["motivo"]) for r in rows} == {
        (e.person_id, e.reason) for e in expected[key]}
    written = _entries(store, before)
    assert sorted(str(e["resource"]) for e in written) == sorted(
        f"pessoa:{e.person_id}" for e in expected[key])
    assert {(e["action"], e["reason"]) for e in written} == {("baixar_lista", f"lista={key}")}
    assert client.get("/api/listas/nenhuma", headers=prof).status_code == 404
    assert client.get(f"/api/listas?municipio={UDI}", headers=prof).status_code == 403
    for who in ("bh", "ana"):
        assert client.get(f"/api/listas/{key}", headers=token(client, who)).status_code == 403
    assert client.get("/api/listas").status_code == 401
    assert verify(store).ok


def test_a_professional_bound_to_a_facility_gets_that_teams_lists(
        client: TestClient, store: Store, users: dict[str, str]) -> None:
    """The team's territory where the data has it: a professional of a BH facility gets the
    people that facility follows (their latest primary-care encounter there) and the
    municipality's people no facility follows; another facility's people never."""
    from rmds.care.worklists import compute, load_worklists
    from rmds.store.auth import Role, add_user

    cursor = client.app.state.data.cursor()  # type: ignore[attr-defined]
    icsap = frozenset(client.app.state.ctx.pack.icsap.codes)  # type: ignore[attr-defined]
    wl = load_worklists()["cronicos_sem_acompanhamento"]
    everyone = compute(cursor, wl, icsap=icsap, municipality=BH)
    by_facility: dict[str | None, int] = {}
    for e in everyone:
        by_facility[e.facility] = by_facility.get(e.facility, 0) + 1
    ours = max((f for f in by_facility if f), key=lambda f: (by_facility[f], f))
    assert len([f for f in by_facility if f]) >= 2, "BH has several facilities on the list"
    add_user(store, "prof-ubs", PASSWORD, Role.PROFESSIONAL, BH, [ours])
    team = token(client, "prof-ubs")
    page = client.get("/listas", headers=team)
    assert page.status_code == 200 and ours in page.text
    expected = [e for e in everyone if e.facility in (ours, None)]
    assert 0 < len(expected) < len(everyone)
    assert f'data-pessoas="{len(expected)}"' in page.text
    rows = client.get(f"/listas/{wl.id}.csv", headers=team).content.decode(
        "utf-8-sig").splitlines()[1:]
    assert sorted(int(r.split(";")[1]) for r in rows) == sorted(e.person_id for e in expected)
    assert {r.split(";")[3] for r in rows} <= {ours, ""}
