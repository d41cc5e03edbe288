"""The plan (mission, vision, values, objectives, projects) read from ``plan.toml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rmds.exceptions import CatalogError, Problem
from rmds.indicators.catalog import Objective, load_catalog, read_declarations

__all__ = ["PLAN_FILE", "Plan", "ProjectPlan", "load_plan"]

PLAN_FILE = Path(__file__).with_name("plan.toml")


@dataclass(frozen=True)
class ProjectPlan:
    id: str
    name: str
    unit: str
    challenge: str
    scope: str
    objectives: tuple[str, ...]
    indicators: tuple[str, ...]
    milestones: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    mission: str
    vision: str
    vision_sus: str
    vision_ses: str
    values: tuple[str, ...]
    objectives: dict[str, Objective]
    projects: tuple[ProjectPlan, ...]
    projects_announced: int


@cache
def load_plan(path: Path = PLAN_FILE) -> Plan:
    data = read_declarations(path, "plano estratégico")
    catalog = load_catalog()
    problems: list[Problem] = []
    projects = []
    for raw in data.get("project", []):
        project = ProjectPlan(
            id=raw["id"], name=raw["name"], unit=raw["unit"], challenge=raw["challenge"],
            scope=raw["scope"], objectives=tuple(raw["objectives"]),
            indicators=tuple(raw.get("indicators", [])),
            milestones=tuple(raw.get("milestones", [])))
        for objective in project.objectives:
            if objective not in catalog.objectives:
                problems.append(Problem(path.name, None, f"{project.id}.objectives",
                                        f"objetivo desconhecido {objective}"))
        for indicator in project.indicators:
            if indicator not in catalog.indicators:
                problems.append(Problem(path.name, None, f"{project.id}.indicators",
                                        f"indicador desconhecido {indicator}"))
        projects.append(project)
    if problems:
        raise CatalogError(f"plano inválido ({path.name})", problems)
    return Plan(data["mission"], data["vision"], data["vision_sus"], data["vision_ses"],
                tuple(data["values"]), catalog.objectives, tuple(projects),
                int(data["projects_announced"]))
