"""The app factory: ``create_app(settings)`` builds one hub (tests make one per temp folder)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import func, select, update
from starlette.routing import BaseRoute

from alu_client.core.private import private_dir

from . import __doc__ as hub_doc
from . import auth, signin
from .accesslog import AccessAccount
from .api import router as api_router
from .contract import install_contract
from .db import Database, SchemaTooOld, as_utc
from .errors import install_handlers
from .events import BROKER_STATE, FeedBroker
from .head import HeadAsGet
from .hub import DataFolderLock, Hub, clear_work_folder
from .limits import BodyLimits
from .models import Item, Upload, utcnow
from .publish import OLD_FAILURE, RETRY_NOTE, complete_upload
from .settings import Settings
from .storage import build_storage
from .tus import drop_ended_leases, drop_leases, expire_uploads, republish_uploads, tus_router
from .web import router as web_router

log = logging.getLogger(__name__)


def open_database(settings: Settings, *, upgrade: bool) -> Database:
    """The hub's database, its schema brought to this code's (``Database.migrate``): a new one
    is made; an existing one at an older schema is upgraded only with ``upgrade`` (``serve``,
    the demo), else refused (``SchemaTooOld``), so that a newer version's chore never changes
    the schema under an older hub still serving.

    SQLite: no upgrade either while another process uses the data folder (its ``hub.lock``:
    an older hub still serving, a chore at work), refused in the same way; the folder is held
    exclusively while the upgrade runs. (Other engines: replicas may be on other machines, with
    folders of their own; the procedure of docs/operations.md stops them all first.)"""
    db = Database(settings.db_url)
    try:
        pending = db.pending_upgrade() if upgrade and db.engine.dialect.name == "sqlite" else None
        if pending is None:
            db.migrate(upgrade=upgrade)
            return db
        lock = DataFolderLock(settings.data_dir)
        try:
            with lock.alone() as alone:
                if not alone:
                    current, head = pending
                    raise SchemaTooOld(
                        f"The hub database is at schema {current}, older than this alu-hub "
                        f"({head}), and another process is using {settings.data_dir} (an older "
                        "hub still serving it, or an alu-hub command): stop it, back the "
                        "database up (docs/operations.md), then start `alu-hub serve` again "
                        "to upgrade it.",
                        current,
                        head,
                    )
                db.migrate()
        finally:
            lock.close()
    except BaseException:
        db.dispose()
        raise
    return db


def build_hub(settings: Settings, *, upgrade: bool = True) -> Hub:
    """The hub's services on ``settings``; ``upgrade``: whether an existing database at an
    older schema may be upgraded (``open_database``; False for the operator's chores)."""
    # the store first: a wrong ALU_HUB_STORAGE is refused before a database is made
    storage = build_storage(settings)
    private_dir(settings.data_dir, tighten=False)  # (an existing one is the operator's)
    private_dir(settings.uploads_dir)  # uploads under way: footage, perhaps embargoed
    db = open_database(settings, upgrade=upgrade)
    hub = Hub(settings=settings, db=db, storage=storage)
    hub.on_upload_complete = lambda upload_id: complete_upload(hub, upload_id)
    return hub


#: files this database does not know are another's (not a crash's leftovers) unless they are
#: older than its newest item or upload by this much (clocks of replicas and S3 differ a little)
KNOWN_MARGIN = dt.timedelta(minutes=10)


def recover(hub: Hub) -> None:
    """Start-up housekeeping after a crash: drop half-published files, finish uploads that had
    all their bytes, delete abandoned uploads past their expiry and old sign-in attempts.

    Files the database does not know are removed only when they are older than the newest
    item (upload) it knows and newer than the database itself: a publish that crashed before
    its commit leaves files newer than every item then, gone at a later start. A database that
    is not the one that made them (a `serve` with ``ALU_HUB_DATABASE_URL`` forgotten) is newer
    than all of them, even once it has published items of its own: the footage stays. (A
    restored backup must never be started against the live store: docs/operations.md.)

    Replicas: when other processes are at work on the same data folder (``DataFolderLock``),
    their work in progress stays: only stale ``work/`` entries go, the files of items not yet
    committed stay, and only uploads nobody is publishing are published again."""
    with hub.folder_lock.starting() as alone:
        clear_work_folder(hub.settings.data_dir / "work", alone=alone)
        if alone:
            with hub.db.session() as s:
                known = set(s.scalars(select(Item.id)))
                newest = s.scalar(select(func.max(Item.published_at)))
            if newest is not None:
                before = as_utc(newest) - KNOWN_MARGIN
                after = hub.db.created_at()
                for item_id in hub.storage.remove_unreferenced(known, before, after):
                    log.warning(
                        "removed the files of an item that was never published: %s", item_id
                    )
            _retry_old_publish_failures(hub)
        _drop_spent_upload_files(hub)
        _drop_dead_leases(hub, alone=alone)
    republish_uploads(hub, alone=alone)
    expired = expire_uploads(hub)
    if expired:
        log.info("removed %d expired uploads", expired)
    signin.prune(hub.db, hub.settings)


def _drop_dead_leases(hub: Hub, *, alone: bool) -> None:
    """The upload leases of hub processes that ended go: all of them when no other process
    uses the data folder, else those of the runs known to have ended (``runs``)."""
    dropped = drop_leases(hub) if alone else 0
    dropped += drop_ended_leases(hub)  # (which also forgets the runs that ended)
    if dropped:
        log.info("let go of %d uploads a hub process that ended was writing", dropped)


def _retry_old_publish_failures(hub: Hub) -> None:
    """Uploads an earlier version marked failed for good when publishing met an error that was
    not the file's (``OLD_FAILURE``: a storage outage, say), with their bytes still here: back
    to ``processing``, for ``republish_uploads`` to publish now."""
    with hub.db.engine.begin() as conn:
        failed = conn.execute(
            select(Upload.id).where(
                Upload.state == "failed", Upload.error == OLD_FAILURE, Upload.concat != "partial"
            )
        ).scalars()
        kept = [i for i in failed if (hub.settings.uploads_dir / i).is_file()]
        if kept:
            conn.execute(
                update(Upload)
                .where(Upload.id.in_(kept), Upload.state == "failed")
                .values(state="processing", error=RETRY_NOTE, updated_at=utcnow())
            )
            log.info("publishing again %d uploads an outage had failed", len(kept))


def _drop_spent_upload_files(hub: Hub) -> None:
    """Delete bytes in ``uploads/`` that no upload needs: its item has them (a crash came
    between publishing and deleting), it was cancelled or expired, or there is no such upload.
    A row is always written before its file, so a file without one is never work in progress."""
    names = [p.name for p in hub.settings.uploads_dir.iterdir() if p.is_file()]
    states: dict[str, str] = {}
    with hub.db.session() as s:
        for start in range(0, len(names), 500):
            rows = s.execute(
                select(Upload.id, Upload.state).where(Upload.id.in_(names[start : start + 500]))
            )
            states.update({row.id: row.state for row in rows})
        newest = s.scalar(select(func.max(Upload.created_at)))
    # bytes of no upload this database knows: another database's (see ``recover``) unless older
    # than its newest upload
    limit = (as_utc(newest) - KNOWN_MARGIN).timestamp() if newest is not None else None
    floor = hub.db.created_at().timestamp()
    for name in names:
        state = states.get(name)
        if state is None:
            try:
                mtime = (hub.settings.uploads_dir / name).stat().st_mtime
            except OSError:
                continue
            if limit is None or mtime >= limit or mtime <= floor:
                continue
        if state in (None, "published", "terminated", "expired"):
            log.info("removing the bytes of upload %s (%s)", name[:8], state or "unknown")
            (hub.settings.uploads_dir / name).unlink(missing_ok=True)


def housekeeping(hub: Hub) -> None:
    """Every few minutes: expire abandoned uploads, publish again uploads whose publisher died
    (another replica, ``republish_uploads``), forget old sign-in attempts."""
    try:
        expire_uploads(hub)
        republish_uploads(hub, alone=False)
        signin.prune(hub.db, hub.settings)
    except Exception:  # the database may be away for a moment: try again next time
        log.exception("housekeeping failed")


def create_app(settings: Settings, hub: Hub | None = None) -> FastAPI:
    hub = hub or build_hub(settings)
    auth.prepare_sign_in()  # (once per process: before the first sign-in, not in it)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, FeedBroker]]:
        hub.broker.bind(asyncio.get_running_loop())
        await asyncio.to_thread(recover, hub)

        async def every_ten_minutes() -> None:
            while True:
                await asyncio.sleep(600)
                await asyncio.to_thread(housekeeping, hub)

        task = asyncio.create_task(every_ten_minutes())
        hub.db.start_checkpoints()
        try:
            # (the state: the server's connections end the streams when it begins to stop)
            yield {BROKER_STATE: hub.broker}
        finally:
            hub.broker.close()
            await asyncio.to_thread(hub.db.stop_checkpoints)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(hub.media.close)
            hub.folder_lock.close()
            hub.run.close()  # (its file stays: the next start-up forgets it, after its leases)

    app = FastAPI(
        title="ALU hub",
        version=_version(),
        description=hub_doc or "",
        lifespan=lifespan,
    )
    app.state.hub = hub
    install_handlers(app)
    install_contract(app)  # /openapi.json as the hub answers: its Error shape, tus' statuses

    # JSON bodies are bounded before they are read whole (tus bodies are streamed to disk).
    app.add_middleware(BodyLimits, settings=hub.settings)
    # HEAD wherever GET is (health checks, link checkers), not 405
    app.add_middleware(HeadAsGet, router=app.router)
    # outermost: the account a request was signed in as, for the access log (``accesslog``)
    app.add_middleware(AccessAccount)
    routes: list[BaseRoute] = []
    for router in (api_router, tus_router(), web_router):
        app.include_router(router)
        routes += router.routes  # (included without a prefix: the paths they are served at)
    app.state.allow_routes = routes  # what a 405's Allow lists (``errors.method_not_allowed``)
    return app


def _version() -> str:
    from alu_client import __version__

    return __version__
