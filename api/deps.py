"""Dependencies shared by the routers: `DbDep`, `SettingsDep`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.settings import Settings
from db.database import Database


# ``async def``: FastAPI would run a plain ``def`` dependency in a thread pool on every request.
async def get_db(request: Request) -> Database:
    """The app's database (opened in the lifespan)."""
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
