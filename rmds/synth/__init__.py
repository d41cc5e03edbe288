"""A synthetic Minas Gerais: people, their care, every source format, and the truth.

``generate`` draws the population of the real 853 municipalities from the reference pack,
simulates births, deaths, hospitalisations, vaccination, primary-care follow-up
(hypertension, diabetes, prenatal care) and consortium referrals, renders each record
through its source's error process and writes the files in their real formats with a
ground truth. Same seed → byte-identical output.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rmds.exceptions import InvalidCodeError
from rmds.synth.catalog import (
    ADMISSIONS,
    DEATH_CAUSES,
    INFANT_CAUSES,
    MATERNAL_CAUSES,
    OUTPATIENT,
    REFERRAL_SERVICES,
)
from rmds.synth.config import (
    DOSE_PRODUCTS,
    FAMILY_PRODUCTS,
    VACCINE_SCHEDULE,
    Rates,
    SynthConfig,
    parse_years,
)
from rmds.synth.events import Factors, simulate
from rmds.synth.identity import ErrorRates, draw_identities
from rmds.synth.state import build_population, build_territory, days
from rmds.synth.writers import Writer, write_json
from rmds.systems import DECLARATIONS
from rmds.territory import ReferencePack

__all__ = ["Rates", "SynthConfig", "SynthResult", "generate", "parse_years"]

STAGES = ("territory", "population", "factors", "events", "identities", "records")


@dataclass
class SynthResult:
    out: Path
    people: int
    counts: dict[str, int]
    files: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


def _rng(seed: int, stage: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, STAGES.index(stage)]))


def check_codes(pack: ReferencePack) -> set[str]:
    """Every code the generator uses must exist in the pack; returns ICSAP codes used."""
    cids = {a.cid for a in ADMISSIONS} | {c[0] for c in DEATH_CAUSES} | {
        c[0] for c in INFANT_CAUSES} | {c[0] for c in MATERNAL_CAUSES} | {
        "O800", "O829", "I10", "E119", "Z349", "C509", "R99", "R69", "R98"}
    unknown = sorted(c for c in cids if pack.cid10.get(c) is None)
    procedures = {a.procedure for a in ADMISSIONS} | {p for p, _, _ in OUTPATIENT} | {
        s[2] for s in REFERRAL_SERVICES if s[2]} | {"0310010039", "0411010034"}
    missing = sorted(p for p in procedures if p not in pack.sigtap.procedures)
    if unknown or missing:
        raise InvalidCodeError(
            "o gerador usa códigos ausentes do pacote de referência: "
            + ", ".join([f"CID-10 {c}" for c in unknown] + [f"SIGTAP {p}" for p in missing]))
    return {a.cid for a in ADMISSIONS if pack.icsap.group_of(a.cid) is not None}


def generate(config: SynthConfig, pack: ReferencePack,
             progress: Callable[[str], None] | None = None) -> SynthResult:
    """Generate the synthetic state into ``config.out`` (replaced atomically on success)."""
    say = progress or (lambda _msg: None)
    icsap = check_codes(pack)
    out = config.out
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    timings: dict[str, float] = {}
    try:
        result = _generate(config, pack, partial, icsap, timings, say)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    result.out = out
    return result


def _generate(config: SynthConfig, pack: ReferencePack, partial: Path, icsap: set[str],
              timings: dict[str, float], say: Callable[[str], None]) -> SynthResult:
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now
        say(name)

    first = config.years[0]
    territory = build_territory(pack, _rng(config.seed, "territory"), first,
                                config.rates.degraded_municipality_share, config.scale)
    people = build_population(pack, territory, _rng(config.seed, "population"), config.scale,
                              first)
    base_people = people.size
    lap("populacao")
    factors = Factors.draw(_rng(config.seed, "factors"), territory)
    events = simulate(territory, people, config.rates, factors, config.years, icsap,
                      _rng(config.seed, "events"))
    lap("eventos")
    referenced = np.unique(np.concatenate([
        events.births["baby"], events.births["mother"], events.deaths["person"],
        events.hospitalisations["person"], events.vaccinations["person"],
        events.chronic["person"], events.referrals.get("person", np.empty(0, np.int64))]))
    ident = draw_identities(_rng(config.seed, "identities"), people, territory, referenced,
                            days(first))
    lap("identidades")
    writer = Writer(partial, territory, people, ident, factors, events, config.years,
                    _rng(config.seed, "records"), config.dbc, ErrorRates())
    writer.scale_factor = config.scale
    for name, step in (("SIM", writer.sim), ("SINASC", writer.sinasc), ("SIH", writer.sih),
                       ("SIA", writer.sia), ("CNES", writer.cnes_files), ("PNI", writer.pni),
                       ("FHIR", writer.fhir), ("consorcios", writer.consortia)):
        step()
        lap(name)
    codes6 = [m.ibge6 for m in territory.municipalities]
    scaled = [max(1, round(int(p) * config.scale)) for p in territory.population]
    for declaration in DECLARATIONS.values():  # systems that bring their own writer
        if declaration.synthetic is not None:
            writer.files += declaration.synthetic(
                partial, codes6, scaled, config.years, config.seed, dbc=config.dbc,
                degraded=[bool(flag) for flag in territory.degraded])
            lap(declaration.code)
    writer.write_truth(ident.truth_table(people, territory))
    writer.population()
    counts = {
        "pessoas_base": base_people, "nascimentos": int(events.births["baby"].size),
        "obitos": int(events.deaths["person"].size),
        "internacoes": int(events.hospitalisations["person"].size),
        "doses": int(events.vaccinations["person"].size),
        "acompanhados_aps": int(events.chronic["person"].size),
        "atendimentos_aps": int(events.encounters["person"].size),
        "encaminhamentos": int(events.referrals.get("person", np.empty(0)).size),
        "gestacoes": int(events.pregnancies["person"].size),
        "gestacoes_em_curso_no_fim": int((events.pregnancies["delivery"] < 0).sum()),
        "consultas_pre_natal": int(events.prenatal["person"].size),
        "pessoas_com_registro": int(ident.person.size),
    }
    write_json(partial / "rates.json", {
        "semente": config.seed, "escala": config.scale, "anos": list(config.years),
        "configurado": config.rates.as_dict(),
        "esperado": {k: {str(y): round(v, 6) for y, v in sorted(by_year.items())}
                     for k, by_year in sorted(events.expected.items())},
        "erros_de_registro": ErrorRates().__dict__,
        "vacinas": [list(v) for v in VACCINE_SCHEDULE],
        "vacinas_outros_produtos": {
            "por_crianca": {acr: list(v) for acr, v in FAMILY_PRODUCTS.items()},
            "por_dose": {f"{acr}_{dose}": list(v)
                         for (acr, dose), v in DOSE_PRODUCTS.items()}},
        "contagens": counts,
    })
    lap("verdade")
    files = [*sorted(writer.files), "rates.json"]
    manifest = {name: hashlib.sha256((partial / name).read_bytes()).hexdigest()
                for name in files}
    write_json(partial / "manifest.json", manifest)
    return SynthResult(partial, base_people, counts, [*files, "manifest.json"], timings)


