"""One router per API resource; :data:`ROUTERS` in the order the app includes them."""

from fastapi import APIRouter

from rmds.api.routers import (
    batches,
    care,
    consortia,
    fhir,
    indicators,
    portfolio,
    quality,
    session,
    tabulator,
    territory,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    session.router, territory.router, indicators.router, quality.router, batches.router,
    consortia.router, portfolio.router, fhir.router, care.router,
    tabulator.router)
