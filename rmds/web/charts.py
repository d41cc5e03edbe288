"""SVG drawn on the server: the choropleth map of MG and small line charts.

The municipal mesh of the reference pack is projected once (equirectangular, scaled by the
cosine of the state's mean latitude) into SVG paths rounded to the pixel; a map of any level
colours each municipality by the value of the unit it belongs to, so regions, macro-regions,
URS and consortia need no meshes of their own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

from rmds.fmt import fmt_decimal

__all__ = ["MISSING", "SUPPRESSED", "Band", "MapMesh", "classes", "colour", "line_chart",
           "mesh"]

WIDTH = 760
# ColorBrewer RdYlBu, 5 classes, marked colour-blind safe: from worst (red) to best (blue)
PALETTE = ("#d7191c", "#fdae61", "#ffffbf", "#abd9e9", "#2c7bb6")
NEUTRAL = "#bdbdbd"      # a single value: no better or worse to show
SUPPRESSED = "#6b6b6b"   # a small count, not published
MISSING = "#f2f2f2"      # no data


class MapMesh:
    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        rings: dict[str, list[list[tuple[float, float]]]] = {}
        self.names: dict[str, str] = {}
        for feature in data["features"]:
            code = str(feature["properties"]["id"])
            self.names[code] = str(feature["properties"].get("name", code))
            geometry = feature["geometry"]
            polygons = ([geometry["coordinates"]] if geometry["type"] == "Polygon"
                        else geometry["coordinates"])
            rings[code] = [[(float(x), float(y)) for x, y in ring]
                           for polygon in polygons for ring in polygon]
        xs = [x for rs in rings.values() for r in rs for x, _ in r]
        ys = [y for rs in rings.values() for r in rs for _, y in r]
        lon0, lat0, lat1 = min(xs), min(ys), max(ys)
        k = math.cos(math.radians((lat0 + lat1) / 2))
        scale = WIDTH / ((max(xs) - lon0) * k)
        self.height = round((lat1 - lat0) * scale)
        self.paths: dict[str, str] = {}
        for code, rs in rings.items():
            parts = []
            for ring in rs:
                points: list[str] = []
                for x, y in ring:
                    point = f"{(x - lon0) * k * scale:.0f},{(lat1 - y) * scale:.0f}"
                    if not points or points[-1] != point:
                        points.append(point)
                if len(points) > 2:
                    parts.append("M" + "L".join(points) + "Z")
            self.paths[code] = "".join(parts)

    def svg(self, fills: Mapping[str, str], titles: Mapping[str, str],
            links: Mapping[str, str] | None = None) -> str:
        """The map, each municipality filled and titled; with ``links``, a click on a
        municipality opens its link (``data-href``, followed by rmds.js; the same
        destinations are links in the page's table, for the keyboard)."""
        links = links or {}
        body = "".join(
            f'<path d="{d}" fill="{fills.get(code, MISSING)}" data-municipio="{code}"'
            + (f' data-href="{escape(links[code])}"' if code in links else "") + ">"
            f"<title>{escape(titles.get(code, self.names.get(code, code)))}</title></path>"
            for code, d in self.paths.items())
        return (f'<svg class="mapa" viewBox="0 0 {WIDTH} {self.height}" role="img" '
                f'aria-label="Mapa de Minas Gerais" xmlns="http://www.w3.org/2000/svg">'
                f'<g stroke="#ffffff" stroke-width="0.3">{body}</g></svg>')


@cache
def mesh(path: Path) -> MapMesh:
    return MapMesh(path)


@dataclass(frozen=True)
class Band:
    """One class of the map: the values from ``low`` to ``high`` (both seen in the data)
    and its colour; ``label`` is the range as the legend prints it."""

    low: float
    high: float
    colour: str
    label: str


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The smallest value with at least a fraction ``q`` of the values at or below it."""
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * q) - 1))]


def classes(values: Sequence[float], higher_is_better: bool, count: int = 5
            ) -> tuple[list[float], list[Band]]:
    """Quantile classes of ``values``, at most ``count``: the breaks (a value above a break
    is in the next class) and the bands from the lowest values up. A break that would
    repeat (many equal values) is dropped, so no two classes cover the same range; a
    single value is one neutral class, not "the best"; the labels show as many decimals as
    it takes for every range to read differently."""
    ordered = sorted(values)
    if not ordered:
        return [], []
    if ordered[0] == ordered[-1]:
        text = fmt_decimal(ordered[0], 1)
        return [], [Band(ordered[0], ordered[0], NEUTRAL, f"{text} (um só valor)")]
    breaks: list[float] = []
    for k in range(1, count):
        cut = _quantile(ordered, k / count)
        if cut < ordered[-1] and (not breaks or cut > breaks[-1]):
            breaks.append(cut)
    if not breaks:        # most values at the top: the lower ones still make their own class
        breaks.append(max(v for v in ordered if v < ordered[-1]))
    n = len(breaks) + 1
    picks = {2: (0, 4), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}[n]
    worst_first = [PALETTE[i] for i in picks]            # PALETTE reads worst → best
    colours = worst_first[::-1] if not higher_is_better else worst_first
    lows = [ordered[0]] + [min(v for v in ordered if v > b) for b in breaks]
    highs = [*breaks, ordered[-1]]
    for places in range(1, 7):
        labels = [f"{fmt_decimal(lo, places)} – {fmt_decimal(hi, places)}"
                  if fmt_decimal(lo, places) != fmt_decimal(hi, places)
                  else fmt_decimal(lo, places) for lo, hi in zip(lows, highs, strict=True)]
        if len(set(labels)) == len(labels):
            break
    return breaks, [Band(lo, hi, c, label) for lo, hi, c, label
                    in zip(lows, highs, colours, labels, strict=True)]


def colour(value: float | None, breaks: Sequence[float], bands: Sequence[Band],
           suppressed: bool = False) -> str:
    """The fill of a municipality: its band's colour, or the marks of a suppressed cell and
    of a cell without data (distinct from each other and from every band)."""
    if value is None:
        return SUPPRESSED if suppressed else MISSING
    if not bands:
        return MISSING
    return bands[sum(1 for b in breaks if value > b)].colour


#: the lines a unit is compared with, darkest first (region, macro-region, state)
COMPARE_TONES = ("#525252", "#969696", "#bdbdbd")


def line_chart(points: Sequence[tuple[str, float | None, float | None, float | None]],
               width: int = 520, height: int = 160, title: str = "Série",
               unit: str = "", target: tuple[float, str] | None = None,
               compare: Sequence[tuple[str, Sequence[float | None]]] = ()) -> str:
    """(label, value, low, high) → an SVG line with its 95% band, a value axis with the
    unit, the value of each point on hover (and read by screen readers), and a gap where a
    point is suppressed or missing (its neighbours are not joined). Small charts (a trend
    beside a table) keep only the line and the gaps. ``target`` (value, label) draws the
    official target as a dashed line; ``compare`` adds (label, values) lines — the units
    above this one, aligned with ``points`` — in grey tones, named in a legend."""
    known = [(i, v, lo, hi) for i, (_, v, lo, hi) in enumerate(points) if v is not None]
    if not known:
        return '<p class="vazio">Sem dados para a série.</p>'
    small = height < 80
    top = max(max(v, hi if hi is not None else v) for _, v, _, hi in known) or 1.0
    if target is not None:
        top = max(top, target[0] * 1.05)
    for _, values in compare:
        top = max([top, *(v for v in values if v is not None)])
    n = max(len(points) - 1, 1)
    left = 4 if small else 46

    def x(i: int) -> float:
        return left + i * (width - left - 8) / n

    def y(v: float) -> float:
        return height - (4 if small else 20) - v / top * (height - (8 if small else 30))

    # runs of consecutive known points: a missing or suppressed point breaks the line
    runs: list[list[tuple[int, float, float | None, float | None]]] = []
    for item in known:
        if runs and runs[-1][-1][0] == item[0] - 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    parts = []
    for run in runs:
        if all(lo is not None and hi is not None for _, _, lo, hi in run) and len(run) > 1:
            upper = " ".join(f"{x(i):.1f},{y(hi or 0):.1f}" for i, _, _, hi in run)
            lower = " ".join(f"{x(i):.1f},{y(lo or 0):.1f}" for i, _, lo, _ in reversed(run))
            parts.append(f'<polygon points="{upper} {lower}" fill="#c6dbef" opacity="0.7"/>')
        if len(run) > 1:
            line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v, _, _ in run)
            parts.append(f'<polyline points="{line}" fill="none" stroke="#08519c" '
                         f'stroke-width="2"/>')
    suffix = f" {unit}" if unit else ""
    for (name, values), tone in zip(compare, COMPARE_TONES, strict=False):
        dash = "" if tone == COMPARE_TONES[0] else ' stroke-dasharray="4,2"'
        stretch: list[str] = []
        for i, v in enumerate(values):
            if v is not None:
                stretch.append(f"{x(i):.1f},{y(v):.1f}")
            if v is None or i == len(values) - 1:
                if len(stretch) > 1:
                    parts.append(f'<polyline class="comparacao" points="{" ".join(stretch)}" '
                                 f'fill="none" stroke="{tone}" stroke-width="1.5"{dash}/>')
                stretch = []
        if not small:
            for i, v in enumerate(values):
                if v is not None:
                    parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" '
                                 f'fill="{tone}"><title>{escape(name)}, '
                                 f"{escape(points[i][0])}: {fmt_decimal(v, 2)}"
                                 f"{escape(suffix)}</title></circle>")
    for i, v, lo, hi in known:
        band = (f" (IC 95%: {fmt_decimal(lo, 1)} – {fmt_decimal(hi, 1)})"
                if lo is not None and hi is not None else "")
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{1.5 if small else 3}" '
                     f'fill="#08519c"><title>{escape(points[i][0])}: '
                     f"{fmt_decimal(v, 2)}{escape(suffix)}{band}</title></circle>")
    gaps = len(points) - len(known)
    if not small:
        for value in (0.0, top / 2, top):
            parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y(value):.1f}" '
                         f'y2="{y(value):.1f}" stroke="#ddd"/>'
                         f'<text x="{left - 4}" y="{y(value) + 3:.1f}" font-size="9" '
                         f'text-anchor="end">{fmt_decimal(value, 1)}</text>')
        if unit:
            parts.append(f'<text x="2" y="10" font-size="9">{escape(unit)}</text>')
        for k, ((name, _), tone) in enumerate(zip(compare, COMPARE_TONES, strict=False)):
            parts.append(f'<text x="{width - 8 - 130 * k}" y="10" font-size="9" '
                         f'text-anchor="end" fill="{tone}">— {escape(name)}</text>')
        if target is not None:
            parts.append(f'<line class="meta" x1="{left}" x2="{width - 8}" '
                         f'y1="{y(target[0]):.1f}" y2="{y(target[0]):.1f}" stroke="#238b45" '
                         f'stroke-dasharray="5,3" stroke-width="1.5"/>'
                         f'<text x="{width - 10}" y="{y(target[0]) - 3:.1f}" font-size="9" '
                         f'text-anchor="end" fill="#00441b">{escape(target[1])}</text>')
        step = max(1, math.ceil(len(points) / 8))
        parts.append("".join(
            f'<text x="{x(i):.1f}" y="{height - 4}" font-size="9" text-anchor="middle">'
            f"{escape(points[i][0])}</text>" for i in range(0, len(points), step)))
    first, last = points[known[0][0]], points[known[-1][0]]
    label = (f"{title}: {len(known)} de {len(points)} períodos com valor, de {first[0]} a "
             f"{last[0]}; último valor {fmt_decimal(last[1], 2)}{suffix}"
             + (f"; {gaps} sem valor (suprimido ou sem dado)" if gaps else "")
             + (f"; {target[1]}" if target is not None else "")
             + "".join(f"; comparado com {name}" for name, _ in compare))
    return (f'<svg class="{"tendencia" if small else "serie"}" viewBox="0 0 {width} '
            f'{height}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')
