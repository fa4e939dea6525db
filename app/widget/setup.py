"""Wiring the widget into the app: its routes and its CORS middleware (see ``create_app``)."""

from __future__ import annotations

from fastapi import FastAPI

from app.widget import admin_routes, routes, static
from app.widget.cors import WidgetCors
from loaders.settings import Settings


def install_widget(app: FastAPI, settings: Settings) -> None:
    """Call after every other middleware: the widget's CORS must be outermost."""
    for router in (admin_routes.router, routes.router, static.router):
        app.include_router(router)
    if not settings.is_production:  # the demo page does not exist in production
        app.include_router(static.demo_router)
    app.add_middleware(WidgetCors, static_origins=settings.cors_origin_list)
