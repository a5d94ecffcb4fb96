"""The API's operations surface (metrics, dashboard, reports). Filled in by the ops work."""

from __future__ import annotations

from fastapi import FastAPI

from dispatcher.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the operations routes to the API app. Called once by `create_app`."""
