"""Hand-built Brazilian records for each phenomenon that merges two people (issue #22):
a mother's CNS on her baby's record, twins, homonyms, "RN DE" with a misspelt mother,
birth year off by one and day/month swap. Each test builds the records, standardises
them as ``rmds link`` does and asserts the clusters or refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from rmds.engine.duck import DuckDBEngine
from rmds.linkage.cluster import components
from rmds.linkage.integrity import (
    broken_clusters,
    conflicts,
    first_names,
    indistinct_births,
    phonetic_key,
    split_impossible,
    twin_signatures,
)
from rmds.linkage.prepare import standardise
from rmds.linkage.run import identifier_edges
from rmds.synth.ids import digits_to_strings, draw_cns

_COLUMNS = ("record_uid", "name", "mother_name", "birth_date", "sex",
            "residence_municipality", "cep", "cns", "cpf")


def _valid_cns(k: int) -> list[str]:
    return [str(c) for c in digits_to_strings(draw_cns(np.random.default_rng(7), k))
            .to_pylist()]


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    data = {c: [r[i] if i < len(r) else None for r in rows] for i, c in enumerate(_COLUMNS)}
    source = pa.table({c: pa.array(v, pa.date32() if c == "birth_date" else pa.string())
                       for c, v in data.items()})
    engine = DuckDBEngine(duckdb.connect())
    try:
        return standardise(engine, source)
    finally:
        engine.con.close()


def _clusters_by_identifier(table: pa.Table) -> list[set[str]]:
    """Clusters of the identifier rule as ``rmds link`` applies it (CPF then CNS, pairs
    between certain strangers refused)."""
    lefts, rights = [], []
    for column in ("cpf", "cns"):
        left, right, _ = identifier_edges(table, column)
        lefts.append(left)
        rights.append(right)
    labels = components(table.num_rows, np.concatenate(lefts), np.concatenate(rights))
    uids = table.column("record_uid").to_pylist()
    groups: dict[int, set[str]] = {}
    for label, uid in zip(labels.tolist(), uids, strict=True):
        groups.setdefault(label, set()).add(uid)
    return sorted(groups.values(), key=min)


def _refused(table: pa.Table, a: str, b: str) -> bool:
    """Whether the records ``a`` and ``b`` (record uids) are refused as one person."""
    uids = table.column("record_uid").to_pylist()
    return bool(conflicts(table, np.array([uids.index(a)]), np.array([uids.index(b)]))[0])


def _chained(table: pa.Table, members: list[int]
             ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """The records ``members`` (row positions, a record may repeat) joined in a chain by
    scored links (0.999) as one cluster, then checked by :func:`split_impossible`: the new
    labels and, per link, whether it was refused."""
    n = len(members)
    sex = np.array(table.column("sex").to_pylist(), dtype=object)
    signatures = twin_signatures(table)
    return split_impossible(np.zeros(n, dtype=np.int64), np.arange(n - 1), np.arange(1, n),
                            np.full(n - 1, 0.999), first_names(table)[members],
                            sex[members], np.zeros(n, dtype=np.bool_), None,
                            [signatures[i] for i in members])


def test_a_mothers_cns_on_her_babys_records_does_not_merge_them() -> None:
    mother_cns, _ = _valid_cns(2)
    table = _table([
        ("m-mae-esus", "MARIA DA SILVA", "ANA DA SILVA", dt.date(1990, 5, 4), "F",
         "310620", None, mother_cns),
        ("n-mae-sinasc", "MARIA SILVA", None, dt.date(1990, 5, 4), "F", "310620", None,
         mother_cns),
        # the newborn: no name (SINASC), the mother's CNS on the record
        ("c-rn-sinasc", None, "MARIA DA SILVA", dt.date(2024, 2, 1), "M", "310620", None,
         mother_cns),
        # the same child in hospital (SIH): "RN DE MARIA DA SILVA", again the mother's CNS
        ("d-rn-sih", "RN DE MARIA DA SILVA", "MARIA DA SILVA", dt.date(2024, 2, 1), "M",
         "310620", None, mother_cns),
    ])
    # the baby's records come first in the group: the mother's two records still link to
    # each other, the baby's two records to each other, never the baby to the mother
    assert _clusters_by_identifier(table) == [{"c-rn-sinasc", "d-rn-sih"},
                                              {"m-mae-esus", "n-mae-sinasc"}]


def test_a_child_with_the_mothers_cns_years_later_is_not_the_mother() -> None:
    cns, _ = _valid_cns(2)
    table = _table([
        ("mae", "JOANA PEREIRA", None, dt.date(1985, 1, 1), "F", "310620", None, cns),
        # the child's vaccination record, the mother's CNS, mother's name unknown
        ("filho", "PEDRO PEREIRA", None, dt.date(2019, 7, 9), "M", "310620", None, cns),
    ])
    assert _clusters_by_identifier(table) == [{"filho"}, {"mae"}]


def test_twins_are_refused_and_the_same_child_is_not() -> None:
    table = _table([
        ("gemeo-1", "LUCAS OLIVEIRA", "ROSA OLIVEIRA", dt.date(2020, 3, 3), "M", "310620"),
        ("gemeo-2", "MATEUS OLIVEIRA", "ROSA OLIVEIRA", dt.date(2020, 3, 3), "M", "310620"),
        ("gemea-3", "LUCIA OLIVEIRA", "ROSA OLIVEIRA", dt.date(2020, 3, 3), "F", "310620"),
        ("lucas-de-novo", "LUCAS DE OLIVEIRA", "ROSA DE OLIVEIRA", dt.date(2020, 3, 3), "M",
         "310620"),
        # newborn twins at birth: identical but for sex
        ("rn-1", None, "ROSA OLIVEIRA", dt.date(2020, 3, 3), "M", "310620"),
        ("rn-2", None, "ROSA OLIVEIRA", dt.date(2020, 3, 3), "F", "310620"),
    ])
    assert _refused(table, "gemeo-1", "gemeo-2")            # different first names
    assert _refused(table, "gemeo-1", "gemea-3")            # different sex and first name
    assert _refused(table, "rn-1", "rn-2")            # newborns, different sex
    assert not _refused(table, "gemeo-1", "lucas-de-novo")        # the same boy, particles apart
    assert not _refused(table, "gemeo-1", "rn-1")        # the boy and his own birth record


def test_homonyms_with_different_mothers_are_refused() -> None:
    table = _table([
        ("a", "MARIA JOSE DA SILVA", "FRANCISCA DA SILVA", dt.date(1970, 4, 2), "F",
         "310620"),
        ("b", "MARIA JOSE DA SILVA", "TEREZINHA SANTOS", dt.date(1970, 4, 12), "F",
         "310620"),
        ("c", "MARIA JOSE SILVA", "FRANCISCA SILVA", dt.date(1970, 4, 2), "F", "310620"),
    ])
    assert _refused(table, "a", "b")
    assert not _refused(table, "a", "c")


def test_rn_de_with_a_misspelt_mother_shares_the_mothers_phonetic_key() -> None:
    table = _table([
        ("sih", "RN DE MARIA DA SILVA", None, dt.date(2024, 1, 10), "F", "310620"),
        ("sinasc", None, "MARYA DA SYLVA", dt.date(2024, 1, 10), "F", "310620"),
        ("outra", None, "MARTA SOUZA", dt.date(2024, 1, 10), "F", "310620"),
    ])
    keys = dict(zip(table.column("record_uid").to_pylist(),
                    table.column("mother_key").to_pylist(), strict=True))
    assert keys["sih"] == keys["sinasc"] == phonetic_key("Mária da Silva")
    assert keys["outra"] != keys["sih"]
    assert not _refused(table, "sih", "sinasc")


def test_birth_year_off_by_one_and_day_month_swap_are_not_refused() -> None:
    table = _table([
        ("a", "JOAO CARLOS SOUZA", "ANA SOUZA", dt.date(1988, 3, 4), "M", "310620"),
        ("b", "JOAO CARLOS SOUZA", "ANA SOUZA", dt.date(1989, 3, 4), "M", "310620"),
        ("c", "JOAO CARLOS SOUZA", "ANA SOUZA", dt.date(1988, 4, 3), "M", "310620"),
        ("d", "JOAO CARLOS SOUZA", "ANA SOUZA", dt.date(1995, 3, 4), "M", "310620"),
    ])
    assert not _refused(table, "a", "b") and not _refused(table, "a", "c")
    assert _refused(table, "a", "d")            # seven years apart


def test_a_cluster_with_two_deaths_or_both_sexes_is_broken() -> None:
    labels = np.array([0, 0, 2, 2, 4, 4])
    sex = np.array(["M", "M", "F", "M", "F", None], dtype=object)
    death = np.array([True, True, False, False, True, False])
    assert broken_clusters(labels, sex, death).tolist() == [True, True, True, True,
                                                             False, False]


def test_blocking_recall_counts_true_pairs_that_share_a_rule() -> None:
    from rmds.linkage.evaluate import blocking_recall

    table = pa.table({"a": ["x", "x", "y", None, None], "b": ["1", "2", "2", "3", "3"]})
    truth = np.array([1, 1, 1, 2, 2])
    # person 1: pairs (0,1) by a, (1,2) by b, (0,2) by neither; person 2: (3,4) by b
    assert blocking_recall(table, truth, [("a",), ("b",)]) == 0.75
    assert blocking_recall(table, truth, [("a", "b")]) == 0.0


def test_siblings_sharing_the_mothers_cns_stay_apart_and_a_typo_does_not() -> None:
    cns, _ = _valid_cns(2)
    table = _table([
        ("irmao-1", "DANIEL OLIVEIRA SOUZA", "ELIANE LIMA OLIVEIRA", dt.date(2023, 1, 11), "M",
         "310620", None, cns),
        ("irmao-2", "BRUNO OLIVEIRA PEREIRA", "ELIANE LIMA OLIVEIRA", dt.date(2024, 3, 5),
         "M", "310620", None, cns),
        # the same boy: a typo in his first name and day/month swapped
        ("irmao-2-erro", "BRUNI OLIVEIRA PEREIRA", "ELIANE LIMA OLIVEIRA",
         dt.date(2024, 5, 3), "M", "310620", None, cns),
    ])
    assert _clusters_by_identifier(table) == [{"irmao-1"}, {"irmao-2", "irmao-2-erro"}]


def test_same_sex_twins_joined_through_their_nameless_birth_records_are_split() -> None:
    # the twins' SINASC records are identical (no name, same sex, mother and day), so
    # each scores high with both girls' named records: one cluster of two girls
    day = dt.date(2023, 6, 1)
    table = _table([
        ("ana", "ANA SOUZA", "RITA SOUZA", day, "F", "310620"),
        ("rn-1", None, "RITA SOUZA", day, "F", "310620"),
        ("rn-2", None, "RITA SOUZA", day, "F", "310620"),
        ("bia", "BEATRIZ SOUZA", "RITA SOUZA", day, "F", "310620"),
        ("ana-de-novo", "ANA SOUZA", "RITA SOUZA", day, "F", "310620"),
    ])
    at = {u: i for i, u in enumerate(table.column("record_uid").to_pylist())}
    links = [("rn-1", "rn-2", 0.9999), ("ana", "rn-1", 0.9995), ("rn-2", "bia", 0.9995),
             ("ana", "rn-2", 0.9991), ("rn-1", "bia", 0.9992), ("ana", "ana-de-novo", 2.0)]
    left = np.array([at[a] for a, _, _ in links], dtype=np.int64)
    right = np.array([at[b] for _, b, _ in links], dtype=np.int64)
    weight = np.array([w for _, _, w in links])
    labels = components(5, left, right)
    assert np.unique(labels).size == 1                     # without the check: one person
    sex = np.array(table.column("sex").to_pylist(), dtype=object)
    death = np.zeros(5, dtype=np.bool_)
    split, refused = split_impossible(labels, left, right, weight, first_names(table), sex,
                                      death)
    # strongest first: ana-de-novo (CNS, weight 2), rn-1–rn-2, ana–rn-1, then every link
    # to BEATRIZ would put two girls' names in one cluster and is refused
    ana = {split[at[u]] for u in ("ana", "rn-1", "rn-2", "ana-de-novo")}
    assert len(ana) == 1 and split[at["bia"]] not in ana
    assert refused.tolist() == [False, False, True, False, True, False]


def test_a_possible_cluster_is_left_alone_and_a_decision_is_kept() -> None:
    table = _table([
        ("a", "JOAO PEREIRA", "LUZIA PEREIRA", dt.date(1980, 1, 1), "M", "310620"),
        ("b", "JOAO PERIERA", "LUZIA PEREIRA", dt.date(1980, 1, 1), "M", "310620"),
        ("c", "PEDRO PEREIRA", "LUZIA PEREIRA", dt.date(1980, 1, 1), "M", "310620"),
    ])
    assert table.column("record_uid").to_pylist() == ["a", "b", "c"]
    sex = np.array(table.column("sex").to_pylist(), dtype=object)
    death = np.zeros(3, dtype=np.bool_)
    # a typo in the first name is one person: nothing refused
    left, right = np.array([0], dtype=np.int64), np.array([1], dtype=np.int64)
    labels = components(3, left, right)
    split, refused = split_impossible(labels, left, right, np.array([0.9995]),
                                      first_names(table), sex, death)
    assert (split[0] == split[1] != split[2]) and not refused.any()
    # JOAO and PEDRO joined by a person's decision (weight 3) stay joined
    left, right = np.array([0, 1], dtype=np.int64), np.array([1, 2], dtype=np.int64)
    labels = components(3, left, right)
    split, refused = split_impossible(labels, left, right, np.array([0.9995, 3.0]),
                                      first_names(table), sex, death)
    assert np.unique(split).size == 1 and not refused.any()


def test_two_birth_records_are_never_one_person() -> None:
    # same-sex twins' SINASC records (no name) and one named record of each twin: the
    # second birth record cannot join the first twin, so it goes with the second
    day = dt.date(2023, 6, 1)
    table = _table([
        ("a-pni", "DAVI MOTA", "ADRIANA MOTA", day, "M", "310620"),
        ("b-pni", "MIGUEL MOTA", "ADRIANA MOTA", day, "M", "310620"),
        ("dn-1", None, "ADRIANA MOTA", day, "M", "310620"),
        ("dn-2", None, "ADRIANA MOTA", day, "M", "310620"),
    ])
    at = {u: i for i, u in enumerate(table.column("record_uid").to_pylist())}
    links = [("a-pni", "dn-1", 0.9998), ("a-pni", "dn-2", 0.9997), ("b-pni", "dn-2", 0.9996),
             ("b-pni", "dn-1", 0.9995)]
    left = np.array([at[a] for a, _, _ in links], dtype=np.int64)
    right = np.array([at[b] for _, b, _ in links], dtype=np.int64)
    sex = np.array(table.column("sex").to_pylist(), dtype=object)
    birth = np.array([u.startswith("dn-") for u in table.column("record_uid").to_pylist()])
    labels = components(4, left, right)
    split, refused = split_impossible(labels, left, right, np.array([w for *_, w in links]),
                                      first_names(table), sex, np.zeros(4, np.bool_), birth)
    assert split[at["a-pni"]] == split[at["dn-1"]] != split[at["b-pni"]] == split[at["dn-2"]]
    assert refused.tolist() == [False, True, False, True]
    # without the birth records marked, all four are one cluster: no names clash… but
    # DAVI and MIGUEL do, so b-pni is refused and dn-2 stays with DAVI
    split, _ = split_impossible(labels, left, right, np.array([w for *_, w in links]),
                                first_names(table), sex, np.zeros(4, np.bool_))
    assert split[at["dn-2"]] == split[at["a-pni"]] != split[at["b-pni"]]


def test_twins_with_one_first_name_are_told_apart_by_their_given_names() -> None:
    # JÉSSICA FRANCISCA and JÉSSICA ROSÂNGELA, daughters of MARIA SILVA COSTA: the same
    # first name, the mother's surname among the middle names of both
    day = dt.date(2023, 4, 25)
    table = _table([
        ("jf", "JÉSSICA FRANCISCA COSTA SOUZA", "MARIA SILVA COSTA", day, "F", "312390"),
        ("jr", "JÉSSICA ROSÂNGELA COSTA SOUZA", "MARIA SILVA COSTA", day, "F", "312390"),
        ("jf-abreviada", "JÉSSICA F COSTA SOUZA", "MARIA SILVA COSTA", day, "F", "312390"),
        ("jr-typo", "JÉSSICA ROSÃNGELA CSTA SOUZA", "MARIA SILVA COSTA", day, "F", "312390"),
        # the same girl without her middle names: nothing tells her from either twin
        ("j-sem-meio", "JÉSSICA SOUZA", "MARIA SILVA COSTA", day, "F", "312390"),
    ])
    assert _refused(table, "jf", "jr")
    assert _refused(table, "jf-abreviada", "jr")            # F is not ROSÂNGELA
    assert not _refused(table, "jf", "jf-abreviada")        # an initial is the same name
    assert not _refused(table, "jr", "jr-typo")             # a typo, in the mother's too
    assert not _refused(table, "jf", "j-sem-meio")
    assert not _refused(table, "jr", "j-sem-meio")


def test_twins_first_names_two_letters_apart_and_one_name_mistyped_twice() -> None:
    day = dt.date(2023, 4, 29)
    rows = [("edson", "EDSON PIMENTA FREITAS"), ("nelson", "NELSON PIMENTA FREITAS"),
            ("esdon", "ESDON PIMENTA FREITAS"), ("fracnisco", "FRACNISCO PIMENTA FREITAS"),
            ("francsico", "FRANCSICO PIMENTA FREITAS")]
    table = _table([(u, name, "ANA PIMENTA", day, "M", "310670") for u, name in rows])
    assert _refused(table, "edson", "nelson")               # two letters apart: twins
    assert not _refused(table, "edson", "esdon")            # one transposition: a typo
    # as one cluster: EDSON and NELSON each on two records are twins; two single typos
    # of FRANCISCO, two letters apart from each other, are not
    def splits(members: list[int]) -> bool:
        return bool(np.unique(_chained(table, members)[0]).size > 1)

    at = {u: i for i, u in enumerate(table.column("record_uid").to_pylist())}
    edson, nelson, fracnisco, francsico = (at[u] for u in ("edson", "nelson", "fracnisco",
                                                           "francsico"))
    assert splits([edson, edson, nelson, nelson])
    assert not splits([edson, nelson])
    assert not splits([fracnisco, francsico])


def test_same_sex_twins_birth_records_are_indistinct_and_others_are_not() -> None:
    day = dt.date(2023, 2, 25)
    table = _table([
        ("SINASC|DN.dbc|1|recem_nascido", None, "GERALDA FERREIRA MAIA", day, "F", "316960"),
        # the mother's middle name abbreviated on the second twin's declaration
        ("SINASC|DN.dbc|2|recem_nascido", None, "GERALDA F MAIA", day, "F", "316960"),
        # a boy of another delivery the same day (different sex, different mother)
        ("SINASC|DN.dbc|3|recem_nascido", None, "GERALDA FERREIRA MAIA", day, "M", "316960"),
        ("SINASC|DN.dbc|4|recem_nascido", None, "ROSA LIMA", day, "F", "316960"),
        # a named record of the same baby girl (vaccination) is not a birth record
        ("PNI|v.csv|5|vacinado", "ALINE MAIA LIMA", "GERALDA FERREIRA MAIA", day, "F",
         "316960"),
    ])
    flags = dict(zip(table.column("record_uid").to_pylist(),
                     indistinct_births(table).tolist(), strict=True))
    assert [flags[f"SINASC|DN.dbc|{k}|recem_nascido"] for k in range(1, 5)] == [
        True, True, False, False]
    assert not flags["PNI|v.csv|5|vacinado"]


def test_homonyms_whose_mothers_share_the_last_name_are_refused() -> None:
    # the mother's last name is the one passed on: homonyms' mothers often share it
    day = dt.date(1952, 2, 21)
    table = _table([
        ("sonia", "ADRIANA ANA BASTOS", "SÔNIA OLIVEIRA BASTOS", day, "F", "310620"),
        ("raquel", "ADRIANA ANA BASTOS", "RAQUEL TEIXEIRA BASTOS", day, "F", "310620"),
        ("sonia-typo", "ADRIANA ANA BASTOS", "SONA OLIVEIRA BASTOS", day, "F", "310620"),
        ("sonia-inicial", "ADRIANA ANA BASTOS", "S OLIVEIRA BASTOS", day, "F", "310620"),
    ])
    assert _refused(table, "sonia", "raquel")
    assert not _refused(table, "sonia", "sonia-typo")
    assert not _refused(table, "sonia", "sonia-inicial")
    # as one cluster (joined through a record without a mother): two mothers, split
    at = {u: i for i, u in enumerate(table.column("record_uid").to_pylist())}
    split, _ = _chained(table, [at["sonia"], at["raquel"]])
    assert np.unique(split).size == 2


def test_a_short_first_name_with_two_letters_swapped_is_a_typo_not_a_twin() -> None:
    """ANA and AAN are 0.56 apart by Jaro-Winkler (three letters), but one slip of the
    hand: the child of EDNA CARVALHO keeps her records, nameless birth record included,
    in one cluster; a sibling clearly apart (ANA and IVO) is still refused."""
    day = dt.date(2023, 4, 23)
    table = _table([
        ("ana", "ANA CARVALHO SILVA", "EDNA CARVALHO", day, "F", "310620"),
        ("ana-2", "ANA CARVALHO SILVA", "EDNA CARVALHO", day, "F", "310620"),
        ("aan", "AAN CARVALHO SILVA", "EDNA CARVALHO", day, "F", "310620"),
        ("aan-2", "AAN C SILVA", "EDNA CARVALHO", day, "F", "310620"),
        ("eva", "EVA CARVALHO SILVA", "EDNA CARVALHO", day, "F", "310620"),
    ])
    assert not _refused(table, "ana", "aan")
    assert _refused(table, "ana", "eva")
    split, refused = _chained(table, [0, 1, 2, 3])
    assert np.unique(split).size == 1 and not refused.any()


def test_twins_named_after_their_mother_or_with_a_swapped_birth_date_stay_apart() -> None:
    """HELOÍSA MARIA and HELOÍSA CAMILA, daughters of CARLA MARIA SILVA: MARIA is the
    mother's name too, but the twins' second names are clearly apart; FÁBIO ADRIANO and
    FÁBIO MARCOS, one record with day and month swapped, are twins all the same. A record
    that drops the second name (HELOÍSA SILVA ALVES) is not a twin of either."""
    day, swapped = dt.date(2024, 1, 3), dt.date(2024, 3, 1)
    table = _table([
        ("maria", "HELOÍSA MARIA SILVA ALVES", "CARLA MARIA SILVA", day, "F", "310620"),
        ("camila", "HELOÍSA CAMILA SILVA ALVES", "CARLA MARIA SILVA", day, "F", "310620"),
        ("sem-segundo", "HELOÍSA SILVA ALVES", "CARLA MARIA SILVA", day, "F", "310620"),
        ("adriano", "FÁBIO ADRIANO SILVA ROCHA", "BEATRIZ SILVA", day, "M", "310620"),
        ("marcos", "FÁBIO MARCOS SILVA ROCHA", "BEATRIZ SILVA", swapped, "M", "310620"),
    ])
    assert _refused(table, "maria", "camila")
    assert _refused(table, "adriano", "marcos")
    assert not _refused(table, "maria", "sem-segundo")
    assert not _refused(table, "camila", "sem-segundo")


def test_an_initial_and_a_mistyped_second_name_are_one_child() -> None:
    """RENATA M MELO and RENATA AMIA MELO are RENATA MAIA MELO written short and mistyped
    (M is not AMIA's initial): neither a pair nor a cluster of hers is split as twins."""
    day = dt.date(2023, 1, 30)
    rows = [("maia-1", "RENATA MAIA MELO"), ("maia-2", "RENATA MAIA MELO"),
            ("maia-3", "RENATA MAIA MELO"), ("amia", "RENATA AMIA MELO"),
            ("m", "RENATA M MELO")]
    table = _table([(u, name, "SIMONE MÁRCIA RIBEIRO MAIA", day, "F", "310620")
                    for u, name in rows])
    assert not _refused(table, "amia", "m")
    split, refused = _chained(table, list(range(table.num_rows)))
    assert np.unique(split).size == 1 and not refused.any()
