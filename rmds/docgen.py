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
    from rmds.indicators.standards import load_standards
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
            f"intervalo: {'gama de Fay e Feuer' if i.standardised else i.method}; "
            f"atribuição: {i.attribution}",
            f"- definição: {i.definition}",
            f"- fonte: {i.source}",
            f"- diferença deliberada frente à fonte: {i.difference}",
            f"- numerador: `{i.numerator.describe()}`",
            f"- denominador: `{i.denominator.describe()}`" if i.denominator
            else "- denominador: nenhum (contagem)"]
        if i.standardised:
            standard = load_standards()[i.standardised.standard]
            parts.append(f"- padronização por idade (método direto): {standard.name} — "
                         f"{standard.source}")
        parts.append("")
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


_ACQUISITION_GUIDE = """
## Como baixar

```sh
rmds fetch SIH SIA:PA CNES:ST --uf MG --period 2023-01..2024-12 --dest dados/datasus
```

Cada arquivo é gravado como `NOME.part` e só é renomeado quando o tamanho confere com o
do servidor: `rmds ingest` nunca vê um arquivo pela metade (ignora `.part`). Uma conexão
interrompida é retomada do ponto em que parou (`REST`); erros transitórios (time-out,
conexão recusada ou derrubada, respostas 4xx) são tentados de novo com espera exponencial
(2 s, 4 s, 8 s...; `--retries`, `--timeout`). O manifesto `.rmds-fetch.json` da pasta
guarda, por arquivo, o caminho remoto, o tamanho, a data (`MDTM`) e o SHA-256: quando o
tamanho ou a data mudam no servidor, o arquivo foi republicado e é baixado de novo. O
relatório lista o que falta no servidor (pasta ou arquivo ausente, ou recusa 550): um mês
ainda não publicado aparece ali, não como erro. O arquivo final é procurado primeiro na
pasta definitiva e depois na preliminar (SIM, SINASC).

**Proxy.** O download usa FTP passivo (ftplib). FTP não atravessa um proxy HTTP comum;
as variáveis `ftp_proxy`/`https_proxy` **não** são usadas pelo `rmds fetch`. Atrás de um
proxy, libere a saída para `ftp.datasus.gov.br` (porta 21 e portas passivas) ou rode o
`rmds fetch` numa máquina com acesso e copie a pasta (com o manifesto) para o servidor.

## Vacinação (dados abertos, HTTP)

```sh
rmds fetch PNI --uf MG --period 2024-01..2024-12 --dest dados/datasus
```

As doses aplicadas (SI-PNI / RNDS) não estão no FTP: o Ministério publica **um ZIP
nacional por mês**, `vacinacao_{mes}_{ano}_csv.zip` (`jan`, `fev`, ... `dez`; cerca de
1,3 GB), com um CSV separado por `;` (latin-1 nos anos 2020–2022, UTF-8 depois; códigos
gravados como números decimais, `310620.0`, em 2020–2024). O endereço mudou em 2026 de
`arquivosdadosabertos.saude.gov.br/dados/dbbni` para o balde S3 do portal
(`https://s3.sa-east-1.amazonaws.com/ckan.saude.gov.br/PNI/csv`, o padrão de `--url-pni`),
que, desde 2026-08, guarda só o ano corrente: os anos anteriores saíram do ar na origem;
quem os tem guardados aponta `--url-pni` para um espelho local (`http://...`).

Do ZIP nacional ficam as linhas da UF — dose aplicada na UF **ou** em residente da UF
(`co_municipio_estabelecimento` ou `co_municipio_paciente` começando pelo código IBGE da
UF: a cobertura conta residentes, a produção conta estabelecimentos) — em
`vacinacao_MG_2024_01.csv` (UTF-8, as mesmas colunas), que `rmds ingest` lê como PNI e
identifica como `PNI:VACINACAO_MG_2024_01`: um mês republicado substitui o mês carregado
antes. O ZIP é baixado como `.part` em `.nacional/` (nunca lido pela carga), retomado com
`Range` quando a conexão cai, conferido pelo tamanho, e apagado depois de extraída a UF. O
manifesto guarda o tamanho e o `Last-Modified` do ZIP: um mês que não mudou não é baixado
de novo. Um mês ausente (404, ou 403, que é como o S3 responde a uma chave inexistente)
aparece no relatório. O download HTTP usa `https_proxy`/`http_proxy`/`no_proxy`.
Cabeçalho sem `co_municipio_paciente` nem `co_municipio_estabelecimento` (leiaute mudou) é
um erro com o nome do arquivo: corrija `PLACE_COLUMNS` em `rmds/acquisition/vaccination.py`.

## A atualização mensal

```sh
rmds sync SIH SIA SIM SINASC CNES PNI --uf MG --period 2024-01..2024-12 --dest dados/datasus
```

Baixa o que é novo ou republicado, carrega no lago (um arquivo republicado substitui o
lote anterior, pela identidade do arquivo: sistema e nome), roda a vinculação incremental
(`rmds link --incremental`; `--no-link` a omite) e recalcula os indicadores cujas tabelas
mudaram (`rmds indicators compute --changed`). Cada carga é uma transação: nada fica meio
publicado. Quando uma etapa falha, o comando sai com código diferente de zero dizendo a
etapa, e a próxima execução retoma as etapas pendentes (`.rmds-sync.json`). Sem nada novo,
diz "Nada novo" e não carrega, vincula nem recalcula nada.

### Agendamento (systemd)

```ini
# /etc/systemd/system/rmds-sync.service
[Unit]
Description=Atualização mensal do RMDS
[Service]
Type=oneshot
User=rmds
Environment=RMDS_LAKE=/srv/rmds/lago
ExecStart=/srv/rmds/.venv/bin/rmds sync SIH SIA SIM SINASC CNES PNI --uf MG \\
  --period 2023-01..2026-12 --dest /srv/rmds/datasus

# /etc/systemd/system/rmds-sync.timer
[Timer]
OnCalendar=*-*-05,20 03:00
Persistent=true
[Install]
WantedBy=timers.target
```

`systemctl enable --now rmds-sync.timer`; o resultado fica em `journalctl -u rmds-sync`.

### Agendamento (cron)

```cron
# /etc/cron.d/rmds-sync (a linha chama um script com o mesmo comando do serviço acima)
0 3 5,20 * * rmds /srv/rmds/bin/rmds-sync.sh >> /var/log/rmds-sync.log 2>&1
```

Onde `/srv/rmds/bin/rmds-sync.sh` define `RMDS_LAKE` e roda o mesmo `rmds sync` do
serviço. O período pode cobrir anos já publicados: arquivos sem mudança não são baixados de novo.

## O pacote de referência: `rmds reference sync`

Território, regionalização e população mudam: o IBGE publica uma estimativa por ano, a
CIB-SUS/MG revisa o PDR ou muda um município de região. Cada mudança vira uma **versão**
nova do pacote, construída a partir da atual e das tabelas oficiais, verificada pelas
mesmas regras do `rmds reference check`, comparada com a atual e instalada ao lado dela:

```sh
# a primeira vez: uma raiz de versões nova, a partir do pacote em uso
rmds reference sync --destino /srv/rmds/referencia \
  --populacao estimativa_dou_2025.csv --ano-populacao 2025
export RMDS_REFERENCE_DIR=/srv/rmds/referencia      # segue RAIZ/ATUAL
# depois: uma regionalização nova, válida a partir de 2026
rmds reference sync --regionalizacao pdr_2026.csv --vigente-desde 2026
# a CID-10 e a SIGTAP do mês, dos arquivos do DATASUS
rmds reference sync --cid10 CID10CSV.ZIP --sigtap TabelaUnificada_202611_v2611.zip
rmds reference versions
rmds indicators compute                              # recalcula com a versão nova
```

- `RAIZ/versoes/<versão>/` guarda um pacote completo por versão, nunca alterado depois de
  instalado; `RAIZ/ATUAL` nomeia a versão em uso e é trocado de uma vez. Voltar a uma
  versão anterior é escrever o nome dela em `ATUAL`.
- A regionalização entra como uma regionalização nova com o ano em que passa a valer
  (`regionalizacoes.csv` da versão): os dados de cada ano ficam na regionalização válida
  naquele ano. Um município que muda de região em 2026 continua na região antiga nos
  indicadores de 2025 e anteriores e entra na nova a partir de 2026
  (`tests/territory/test_versions.py`). A tabela tem uma linha por município de MG
  (código IBGE de 6 ou 7 dígitos; `co_regsaud`, `no_regsaud`, `co_macsaud`, `no_macsaud`;
  separada por vírgula ou ponto e vírgula, UTF-8 ou Latin-1); todos os problemas são
  listados de uma vez, com arquivo, linha e campo, e nada é instalado.
- A estimativa do IBGE é lida como a planilha do DOU salva em CSV (`COD. UF`, `COD.
  MUNIC` de 5 dígitos, `POPULAÇÃO ESTIMADA` com pontos de milhar e notas como `(1)`);
  as linhas de outros estados são ignoradas; cada município de MG precisa estar lá.
- As tabelas de códigos vêm dos arquivos oficiais: `--cid10 CID10CSV.ZIP` (os CSVs da
  CID-10 do DATASUS, `CID-10-CAPITULOS/GRUPOS/CATEGORIAS/SUBCATEGORIAS.CSV`, Latin-1, `;`)
  e `--sigtap TabelaUnificada_AAAAMM_vN.zip` (a Tabela Unificada do mês: o
  `tb_procedimento.txt` de largura fixa, em Windows-1252, lido pelas posições do
  `tb_procedimento_layout.txt` que vem no mesmo ZIP — uma mudança de leiaute no DATASUS é
  seguida sem mudar o rmds). O SIGTAP do pacote passa a ter os nomes completos e a
  competência conhecida; o pacote distribuído tem nomes truncados e 10 nomes com traços e
  aspas do Windows-1252 lidos como Latin-1 (U+0096, U+0093), que a sincronização corrige.
  Um código da CID-10 que o rmds acrescenta à mão (U07.1, U09.9...) cede à descrição do
  arquivo oficial quando este o traz. Sem `--cid10`/`--sigtap`, essas tabelas são copiadas
  da versão anterior.
- Os mapas das regiões continuam desenhados com as malhas do pacote; uma região com
  membros novos aparece no mapa com o contorno antigo até que a malha seja atualizada.

## Quando o DATASUS muda um leiaute ou uma pasta

- Pasta ou nome novos: corrija a família em `rmds/acquisition/catalog.py` (uma linha) e
  rode `python -m rmds.docgen` para atualizar esta página.
- Leiaute novo (colunas de um ano): declare a versão do leiaute do sistema em
  `rmds/systems/` (`layouts`); `rmds read --canonical ARQUIVO` mostra o que é lido e o
  que vai para a quarentena.
- Um arquivo republicado não exige ação: o `rmds sync` o detecta e substitui o lote.

## Fontes dos caminhos

Cada pasta do catálogo foi conferida, uma a uma, com dois projetos que leem o FTP público
`ftp.datasus.gov.br` há anos:

- microdatasus, `R/fetch_datasus.R` (rfsaldanha/microdatasus, commit `00acce6`): SIM-DO em
  `SIM/CID10/DORES` e `SIM/PRELIM/DORES`; DOFET, DOEXT, DOINF e DOMAT, nacionais, todos em
  `SIM/CID10/DOFET` e `SIM/PRELIM/DOFET` (nome `DOEXT{aa}.dbc`); SINASC em
  `SINASC/NOV/DNRES`; SIH RD/RJ/SP/ER em `SIHSUS/200801_/Dados`; SIA PA/BI/AM/AQ/AR em
  `SIASUS/200801_/Dados`; CNES em `CNES/200508_/Dados/<grupo>`;
- PySUS, `pysus/ftp/databases/{sim,sih,sia,cnes,sinasc}.py` (AlertaDengue/PySUS): as mesmas
  pastas; as anteriores a 2008 (`SIHSUS/199201_200712/Dados`, `SIASUS/199407_200712/Dados`,
  `SIM/CID9/DORES`, `SINASC/ANT/DNRES`) ficam fora do catálogo, que começa em 2008 (SIH, SIA),
  2005 (CNES) e 1996 (SIM, SINASC).

Nenhum caminho foi conferido contra o servidor real a partir desta máquina (os testes não
acessam a internet). Projetos mais recentes citam também `SINASC/1996_/Dados/DNRES` para o
SINASC; se `rmds fetch SINASC` relatar a pasta ausente, corrija a linha do SINASC em
`rmds/acquisition/catalog.py` para essa pasta.
"""


def acquisition_reference() -> str:
    """docs/acquisition.md: the catalog of DATASUS file families, and the guide."""
    from rmds.acquisition.catalog import FAMILIES

    parts = ["# Aquisição de dados do DATASUS", "",
             "Gerado por `python -m rmds.docgen` a partir de `rmds/acquisition/catalog.py`.",
             "",
             "| Sistema | Família | Descrição | Pasta definitiva | Pasta preliminar | "
             "Nome | Periodicidade | Partes | Desde | Carregada no lago |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for f in FAMILIES:
        parts.append(f"| {f.system} | {f.code} | {f.description} | `{f.folder}` | "
                     f"{'`' + f.prelim + '`' if f.prelim else '—'} | `{f.pattern}.dbc` | "
                     f"{'mensal' if f.monthly else 'anual'} | "
                     f"{'a, b, c...' if f.split else '—'} | {f.since} | "
                     f"{'sim' if f.ingestible() else 'não (só download)'} |")
    return "\n".join(parts) + "\n" + _ACQUISITION_GUIDE


def write_docs(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("cli.md", cli_reference()), ("settings.md", settings_reference()),
                       ("schema.md", schema_reference()),
                       ("catalog.md", catalog_reference()),
                       ("acquisition.md", acquisition_reference())):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "docs"
    for written_path in write_docs(target):
        print(written_path)
