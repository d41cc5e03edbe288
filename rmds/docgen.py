"""Generate the reference pages in ``docs/`` from the code: ``python -m rmds.docgen``.

``docs/cli.md`` comes from the CLI's own help and ``docs/settings.md`` from the declared
settings table, so the docs cannot drift; a test checks the files are up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rmds.settings import SETTINGS

__all__ = ["catalog_reference", "cli_reference", "schema_reference", "settings_reference",
           "write_docs"]


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def cli_reference() -> str:
    from click.testing import CliRunner

    from rmds.cli import cli

    parts = ["# Referência da linha de comando\n",
             "Gerado por `python -m rmds.docgen` a partir da ajuda do próprio `rmds`.\n"]
    runner = CliRunner()
    for path, _ in _walk(cli, ["rmds"]):
        result = runner.invoke(cli, [*path[1:], "--help"], terminal_width=100)
        parts.append(f"## `{' '.join(path)}`\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def settings_reference() -> str:
    lines = [
        "# Configurações\n",
        "Gerado por `python -m rmds.docgen` a partir de `rmds.settings.SETTINGS`. Cada valor "
        "vem, nesta ordem, da opção de linha de comando, da variável de ambiente ou do "
        "padrão.\n",
        "| configuração | opção | variável | padrão | descrição |",
        "|---|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = "—" if s.default is None else f"`{s.default}`"
        choices = f" Valores: {', '.join(s.choices)}." if s.choices else ""
        option = "--" + s.name.replace("_", "-")
        lines.append(f"| `{s.name}` | `{option}` | `{s.env}` | {default} | {s.help}{choices} |")
    return "\n".join(lines) + "\n"


def schema_reference() -> str:
    from rmds.schema import INVENTORY, TABLES
    from rmds.systems import DECLARATIONS

    parts = ["# Tabelas canônicas\n",
             "Gerado por `python -m rmds.docgen` a partir de `rmds.schema.TABLES`, do "
             "inventário do lago (`rmds.schema.inventory`) e das declarações dos sistemas "
             "(`rmds.systems`). Todo mapeador de fonte produz exatamente estas colunas.\n",
             "## Sistemas de origem\n",
             "| sistema | nome | tabela | arquivos | leiautes | identificação | regras e "
             "indicadores próprios |",
             "|---|---|---|---|---|---|---|"]
    for d in DECLARATIONS.values():
        layouts = "; ".join(f"{lay.first_year}–{lay.last_year or ''}" for lay in d.layouts)
        roles = ", ".join(spec.role for spec in d.identity) or "—"
        rules = ", ".join(f"`{p.name}`" for p in (d.rules, d.indicators) if p) or "—"
        pattern = d.file_pattern.pattern.replace("|", "\\|")  # a table cell
        parts.append(f"| {d.code} | {d.name} | `{d.table}` | `{pattern}` | "
                     f"{layouts or '—'} | {roles} | {rules} |")
    parts.append("")
    for declared in TABLES:
        entry = INVENTORY[declared.name]
        parts.append(f"## `{declared.name}` — {declared.description}\n")
        period = (f"`{entry.period}` ({entry.period_kind.value})" if entry.period
                  else "nenhum")
        key = ", ".join(f"`{c}`" for c in entry.key) or "nenhuma"
        where = ", ".join(f"`{c}`" for c in entry.territory) or "nenhum"
        protected = "; **protegida** (fora das exportações)" if entry.protected else ""
        parts.append(f"Período: {period}; chave: {key}; território: {where}{protected}.\n")
        parts.append("| coluna | tipo | descrição |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {c.type} | {c.description} |" for c in declared.columns)
        parts.append("")
    return "\n".join(parts)


def catalog_reference() -> str:
    """The indicator catalog, its inputs, the mart and the quality rules, from the
    declarations."""
    from rmds.indicators.catalog import load_catalog
    from rmds.indicators.compute import MART_COLUMNS
    from rmds.indicators.inputs import INPUTS
    from rmds.quality.rules import DIMENSIONS, load_rules

    catalog = load_catalog()
    parts = ["# Catálogo de indicadores e regras de qualidade\n",
             "Gerado por `python -m rmds.docgen` a partir de `rmds/indicators/catalog.toml` e "
             "`rmds/quality/rules.toml`. Veja `docs/indicators.md` para o método.\n",
             "## Objetivos estratégicos (Planejamento Estratégico SES-MG 2023–2026)\n",
             "| id | objetivo |", "|---|---|"]
    parts += [f"| {o.id} | {o.text} |" for o in catalog.objectives.values()]
    parts.append(f"\n## Indicadores ({len(catalog)})\n")
    for i in catalog:
        better = "maior é melhor" if i.higher_is_better else "menor é melhor"
        parts += [
            f"### `{i.id}` — {i.name}\n",
            f"- objetivo: {i.objective}; unidade: {i.unit} (× {i.multiplier:g}); {better}; "
            f"intervalo: {i.method}; atribuição: {i.attribution}",
            f"- definição: {i.definition}",
            f"- fonte: {i.source}",
            f"- numerador: `{i.numerator.describe()}`",
            f"- denominador: `{i.denominator.describe()}`" if i.denominator
            else "- denominador: nenhum (contagem)", ""]
    parts += ["## Entradas e colunas derivadas\n",
              "Os filtros usam as colunas das tabelas canônicas (`docs/schema.md`) e estas:\n",
              "| entrada | coluna derivada | descrição |", "|---|---|---|"]
    for item in INPUTS.values():
        parts += [f"| `{item.name}` | `{c}` | {text} |" for c, text in item.derived]
    parts += ["\n## Mart `indicator_values`\n", "| coluna | tipo | descrição |", "|---|---|---|"]
    parts += [f"| `{name}` | {sql} | {text} |" for name, sql, text in MART_COLUMNS]
    parts += ["\n## Regras de qualidade\n",
              "| id | sistema | dimensão | regra | tipo | meta | limite | peso |",
              "|---|---|---|---|---|---|---|---|"]
    for r in load_rules():
        parts.append(f"| `{r.id}` | {r.system} | {DIMENSIONS[r.dimension]} | {r.name} | "
                     f"{r.kind} | {r.target:g}% | {r.limit:g}% | {r.weight:g} |")
    return "\n".join(parts) + "\n"


def write_docs(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("cli.md", cli_reference()), ("settings.md", settings_reference()),
                       ("schema.md", schema_reference()),
                       ("catalog.md", catalog_reference())):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "docs"
    for written_path in write_docs(target):
        print(written_path)
