"""The app factory: ``create_app(settings)`` builds one hub (tests make one per temp folder)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from sqlalchemy import select

from . import __doc__ as hub_doc
from .api import router as api_router
from .db import Database
from .errors import error_body, install_handlers
from .hub import Hub
from .models import Item, Upload
from .publish import complete_upload
from .settings import Settings
from .storage import LocalStorage
from .tus import expire_uploads, tus_router

log = logging.getLogger(__name__)

#: JSON bodies are small; only tus PATCH/POST bodies (streamed to disk) may be large.
MAX_JSON_BODY = 4 * 1024 * 1024


def build_hub(settings: Settings) -> Hub:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    hub = Hub(settings=settings, db=db, storage=LocalStorage(settings.storage_dir))
    hub.on_upload_complete = lambda upload_id: complete_upload(hub, upload_id)
    return hub


def recover(hub: Hub) -> None:
    """Start-up housekeeping after a crash: drop half-published files, finish uploads that had
    all their bytes, and delete abandoned uploads past their expiry."""
    shutil.rmtree(hub.settings.data_dir / "work", ignore_errors=True)
    items_dir = hub.settings.storage_dir / "items"
    if items_dir.is_dir():
        with hub.db.session() as s:
            known = set(s.scalars(select(Item.id)))
        for d in items_dir.iterdir():
            if d.name not in known:
                log.warning("removing files of an item that was never published: %s", d.name)
                shutil.rmtree(d, ignore_errors=True)
    with hub.db.session() as s:
        pending = list(s.scalars(select(Upload.id).where(Upload.state == "processing")))
    for upload_id in pending:
        threading.Thread(target=hub.on_upload_complete, args=(upload_id,), daemon=True).start()
    expired = expire_uploads(hub)
    if expired:
        log.info("removed %d expired uploads", expired)


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    hub = hub or build_hub(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        hub.broker.bind(asyncio.get_running_loop())
        await asyncio.to_thread(recover, hub)

        async def housekeeping() -> None:
            while True:
                await asyncio.sleep(600)
                await asyncio.to_thread(expire_uploads, hub)

        task = asyncio.create_task(housekeeping())
        try:
            yield
        finally:
            hub.broker.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="ALU hub",
        version=_version(),
        description=hub_doc or "",
        lifespan=lifespan,
    )
    app.state.hub = hub
    install_handlers(app)

    @app.middleware("http")
    async def bound_bodies(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length", "")
        if (
            length.isdigit()
            and int(length) > MAX_JSON_BODY
            and not request.url.path.startswith("/api/v1/uploads")
        ):
            from fastapi.responses import JSONResponse

            return JSONResponse(error_body("body_too_large", "The request body is too large."), 413)
        return await call_next(request)

    app.include_router(api_router)
    app.include_router(tus_router())
    return app


def _version() -> str:
    from alu_client import __version__

    return __version__
