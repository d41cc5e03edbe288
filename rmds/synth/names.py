"""Brazilian names, drawn as indices into vocabularies and assembled as Arrow strings.

A person's name is one or two given names (compound names such as MARIA EDUARDA, JOÃO
PEDRO), then usually the mother's surname and the father's surname, sometimes joined by a
particle (DA, DE, DO, DOS, DAS). A woman may later add or swap in her spouse's surname.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FEMALE", "MALE", "PARTICLES", "STREETS", "SURNAMES", "assemble", "draw_given",
           "draw_surnames", "fold_upper"]

FEMALE = (
    "MARIA", "ANA", "FRANCISCA", "ANTÔNIA", "ADRIANA", "JULIANA", "MÁRCIA", "FERNANDA",
    "PATRÍCIA", "ALINE", "SANDRA", "CAMILA", "AMANDA", "BRUNA", "JÉSSICA", "LETÍCIA",
    "JÚLIA", "LUCIANA", "VANESSA", "MARIANA", "GABRIELA", "VERA", "VITÓRIA", "LARISSA",
    "CLÁUDIA", "BEATRIZ", "LUANA", "RITA", "SÔNIA", "RENATA", "ELIANE", "JOSEFA",
    "SIMONE", "NATÁLIA", "RAIMUNDA", "CARLA", "TEREZINHA", "ROSÂNGELA", "DÉBORA", "CRISTINA",
    "CONCEIÇÃO", "APARECIDA", "HELENA", "ALICE", "LAURA", "VALENTINA", "SOFIA", "ISABELA",
    "MANUELA", "HELOÍSA", "LÍVIA", "CECÍLIA", "LORENA", "EDUARDA", "CLARA", "LUÍSA",
    "RAQUEL", "TATIANE", "KELLY", "PRISCILA", "DANIELA", "ROSA", "LÚCIA", "MARTA",
    "GERALDA", "IVONE", "EDNA", "NEUZA", "APARECIDA", "ZÉLIA", "FÁTIMA", "GLÓRIA",
    "REGINA", "DAIANE", "THAÍS", "JOSIANE", "SABRINA", "MIRIAM", "ELISA", "YASMIN",
)
MALE = (
    "JOSÉ", "JOÃO", "ANTÔNIO", "FRANCISCO", "CARLOS", "PAULO", "PEDRO", "LUCAS", "LUIZ",
    "MARCOS", "LUÍS", "GABRIEL", "RAFAEL", "DANIEL", "MARCELO", "BRUNO", "EDUARDO",
    "FELIPE", "RAIMUNDO", "RODRIGO", "MANOEL", "MATEUS", "ANDRÉ", "FERNANDO", "FÁBIO",
    "LEONARDO", "GUSTAVO", "GUILHERME", "LEANDRO", "TIAGO", "ANDERSON", "RICARDO", "MÁRCIO",
    "JORGE", "SEBASTIÃO", "ALEXANDRE", "ROBERTO", "EDSON", "DIEGO", "VITOR", "SÉRGIO",
    "CLÁUDIO", "MATHEUS", "THIAGO", "GERALDO", "ADRIANO", "LUCIANO", "JÚLIO", "RENATO",
    "ALEX", "VINÍCIUS", "ROGÉRIO", "SAMUEL", "RONALDO", "MIGUEL", "ARTHUR", "HEITOR",
    "BERNARDO", "DAVI", "THEO", "LORENZO", "BENJAMIN", "NICOLAS", "ENZO", "CAIO",
    "HENRIQUE", "OTÁVIO", "WELLINGTON", "WAGNER", "ADEMIR", "JOAQUIM", "BENEDITO", "OSVALDO",
    "WALTER", "NELSON", "HUGO", "IGOR", "MURILO", "RUAN", "KAUÃ",
)
SURNAMES = (
    "SILVA", "SANTOS", "OLIVEIRA", "SOUZA", "RODRIGUES", "FERREIRA", "ALVES", "PEREIRA",
    "LIMA", "GOMES", "COSTA", "RIBEIRO", "MARTINS", "CARVALHO", "ALMEIDA", "LOPES", "SOARES",
    "FERNANDES", "VIEIRA", "BARBOSA", "ROCHA", "DIAS", "NASCIMENTO", "ANDRADE", "MOREIRA",
    "NUNES", "MARQUES", "MACHADO", "MENDES", "FREITAS", "CARDOSO", "RAMOS", "GONÇALVES",
    "SANTANA", "TEIXEIRA", "ARAÚJO", "PINTO", "CAMPOS", "MOURA", "CORREIA", "REIS",
    "CUNHA", "CASTRO", "MIRANDA", "RESENDE", "FARIA", "TAVARES", "BATISTA", "FONSECA",
    "AMARAL", "MAGALHÃES", "GUIMARÃES", "COUTINHO", "QUEIROZ", "VASCONCELOS", "BRANDÃO",
    "DRUMMOND", "TOLENTINO", "CHAVES", "XAVIER", "PIMENTA", "PACHECO", "SALES", "BORGES",
    "NOGUEIRA", "CORDEIRO", "AGUIAR", "MELO", "PRADO", "LACERDA", "CAMARGO", "BRAGA",
    "VALADARES", "DUARTE", "FIGUEIREDO", "SAMPAIO", "LEMOS", "RANGEL", "PAIVA", "SIQUEIRA",
    "MOTA", "PORTO", "JESUS", "CRUZ", "CONCEIÇÃO", "PAULA", "ASSIS", "CRISTINA", "LEITE",
    "ABREU", "BARROS", "AZEVEDO", "BASTOS", "CAMPOLINA", "DINIZ", "ESTEVES", "FRANCO",
    "GODINHO", "HORTA", "JUNQUEIRA", "LAGE", "MAIA", "NEVES", "OTONI", "PASSOS", "QUINTÃO",
    "ROSA", "SERRANO", "TORRES", "VILELA", "ZANINI", "PENA", "LOBATO", "TAMEIRÃO",
)
PARTICLES = ("DA", "DE", "DO", "DOS", "DAS")
STREETS = (
    "RUA", "RUA", "RUA", "AVENIDA", "TRAVESSA", "ALAMEDA", "PRAÇA", "RODOVIA",
)


def _vocab(words: tuple[str, ...]) -> pa.Array:
    return pa.array(words, pa.string())


def draw_given(rng: np.random.Generator, female: npt.NDArray[np.bool_]
               ) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
    """First and second given name indices (−1 where a person has a single given name).
    Indices below ``len(FEMALE)`` are in FEMALE for women and in MALE for men; popular
    names are drawn more often (Zipf-like weights)."""
    n = female.size
    out = []
    for vocab_f, vocab_m in ((FEMALE, MALE), (FEMALE, MALE)):
        wf = 1.0 / np.arange(1, len(vocab_f) + 1) ** 0.8
        wm = 1.0 / np.arange(1, len(vocab_m) + 1) ** 0.8
        f_idx = rng.choice(len(vocab_f), size=n, p=wf / wf.sum())
        m_idx = rng.choice(len(vocab_m), size=n, p=wm / wm.sum())
        out.append(np.where(female, f_idx, m_idx).astype(np.int16))
    compound = rng.random(n) < 0.38
    second = np.where(compound & (out[1] != out[0]), out[1], -1).astype(np.int16)
    return out[0], second


def draw_surnames(rng: np.random.Generator, n: int) -> npt.NDArray[np.int16]:
    weights = 1.0 / np.arange(1, len(SURNAMES) + 1) ** 0.9
    return rng.choice(len(SURNAMES), size=n, p=weights / weights.sum()).astype(np.int16)


def _take(vocab: pa.Array, idx: npt.NDArray[np.int16]) -> pa.Array:
    mask = idx < 0
    return pc.take(vocab, pa.array(np.where(mask, 0, idx), mask=mask))


def assemble(female: npt.NDArray[np.bool_], given1: npt.NDArray[np.int16],
             given2: npt.NDArray[np.int16], particle: npt.NDArray[np.int8],
             surname1: npt.NDArray[np.int16], surname2: npt.NDArray[np.int16]) -> pa.Array:
    """Full names as an Arrow string array; −1 indices are absent parts."""
    fem, mal = _vocab(FEMALE), _vocab(MALE)
    g1 = pc.if_else(pa.array(female), _take(fem, given1), _take(mal, given1))
    g2 = pc.if_else(pa.array(female), _take(fem, given2), _take(mal, given2))
    parts = [g1, g2, _take(_vocab(PARTICLES), particle.astype(np.int16)),
             _take(_vocab(SURNAMES), surname1), _take(_vocab(SURNAMES), surname2)]
    return pc.binary_join_element_wise(*parts, " ", null_handling="skip")


_ACCENTED, _PLAIN = "ÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇ", "AAAAAEEEEIIIIOOOOOUUUUC"


def fold_upper(names: pa.Array) -> pa.Array:
    """Upper case without accents, as many legacy systems store names."""
    result = names
    for source, target in zip(_ACCENTED, _PLAIN, strict=True):
        result = pc.replace_substring(result, source, target)
    return result
