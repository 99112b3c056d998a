"""The instructor service's database, through SQLAlchemy Core.

SQLite by default (`<state dir>/classroom.sqlite`, mode 0600); PostgreSQL when
`LAYERLAB_CLASSROOM_DB` is a `postgresql://` URL (psycopg 3). Three tables:

    events      the progress events of schema 1 (core/progress.py), each stored once: its key
                is a hash of the event's canonical JSON, so the same event sent twice (a
                retried post, a record forwarded again) is one row
    heartbeats  per learner, the latest engine facts their server sent, and when
    resets      lesson resets an admin asked for; pending until the learner's server acks
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import sqlalchemy as sa

from ..core.progress import COMMON, is_event

metadata = sa.MetaData()
events = sa.Table(
    "layerlab_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("learner", sa.String(255), nullable=False, index=True),
    sa.Column("lesson", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received", sa.Float, nullable=False),
)
heartbeats = sa.Table(
    "layerlab_heartbeats", metadata,
    sa.Column("learner", sa.String(255), primary_key=True),
    sa.Column("received", sa.Float, nullable=False),
    sa.Column("engine_up", sa.Boolean, nullable=False),
    sa.Column("version", sa.String(64)),
    sa.Column("rootless", sa.Boolean),
    sa.Column("disk_bytes", sa.BigInteger),
    sa.Column("error", sa.Text),
)
resets = sa.Table(
    "layerlab_resets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("learner", sa.String(255), nullable=False, index=True),
    sa.Column("lesson", sa.String(255), nullable=False),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("requested", sa.Float, nullable=False),
    sa.Column("done", sa.Float),
    sa.Column("outcome", sa.Text),
)


def event_key(event: dict) -> str:
    return hashlib.sha256(json.dumps(event, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def default_url(state_dir: str | os.PathLike) -> str:
    """The SQLite file under the service's state folder (created 0700, the file 0600)."""
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "classroom.sqlite"
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return f"sqlite:///{path}"


def engine_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (SQLAlchemy's own default driver is psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    def __init__(self, url: str):
        self.url = url
        self.db = sa.create_engine(engine_url(url), future=True, pool_pre_ping=True)
        metadata.create_all(self.db)

    def close(self) -> None:
        self.db.dispose()

    # -- events ------------------------------------------------------------------------------
    def add_events(self, batch: list[dict]) -> tuple[int, int]:
        """Store the events not stored yet; (added, already there)."""
        added = seen = 0
        for event in batch:
            if not is_event(event):
                raise ValueError(f"not a progress event of schema 1: {event!r}")
            row = {"key": event_key(event), "learner": event["learner"], "lesson": event["lesson"],
                   "kind": event["kind"], "time": event["time"], "received": time.time(),
                   "body": json.dumps(event, sort_keys=True, ensure_ascii=False)}
            try:
                with self.db.begin() as connection:
                    connection.execute(events.insert().values(**row))
                added += 1
            except sa.exc.IntegrityError:
                seen += 1  # the unique key: this very event is stored already
        return added, seen

    def events_of(self, learner: str | None = None) -> list[dict]:
        query = sa.select(events.c.body).order_by(events.c.time, events.c.id)
        if learner is not None:
            query = query.where(events.c.learner == learner)
        with self.db.connect() as connection:
            return [json.loads(body) for (body,) in connection.execute(query)]

    # -- heartbeats --------------------------------------------------------------------------
    def beat(self, learner: str, engine_up: bool, version: str | None, rootless: bool | None,
             disk_bytes: int | None, error: str | None = None, now: float | None = None) -> None:
        row = {"received": now or time.time(), "engine_up": bool(engine_up), "version": version,
               "rootless": rootless, "disk_bytes": disk_bytes, "error": error}
        with self.db.begin() as connection:
            updated = connection.execute(heartbeats.update().where(heartbeats.c.learner == learner).values(**row))
            if not updated.rowcount:
                connection.execute(heartbeats.insert().values(learner=learner, **row))

    def heartbeats(self) -> dict[str, dict]:
        with self.db.connect() as connection:
            return {row.learner: dict(row._mapping) for row in connection.execute(sa.select(heartbeats))}

    # -- resets ------------------------------------------------------------------------------
    def ask_reset(self, learner: str, lesson: str, by: str) -> int:
        """Queue a reset of one lesson for one learner (an identical pending one is reused)."""
        with self.db.begin() as connection:
            pending = connection.execute(sa.select(resets.c.id).where(
                resets.c.learner == learner, resets.c.lesson == lesson, resets.c.done.is_(None))).first()
            if pending:
                return pending.id
            return connection.execute(resets.insert().values(
                learner=learner, lesson=lesson, requested_by=by, requested=time.time())).inserted_primary_key[0]

    def pending_resets(self, learner: str | None = None) -> list[dict]:
        query = sa.select(resets.c.id, resets.c.learner, resets.c.lesson, resets.c.requested).where(
            resets.c.done.is_(None)).order_by(resets.c.id)
        if learner is not None:
            query = query.where(resets.c.learner == learner)
        with self.db.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def ack_reset(self, learner: str, reset_id: int, outcome: str) -> bool:
        """Mark a learner's reset done; False when it is not theirs or not pending."""
        with self.db.begin() as connection:
            done = connection.execute(resets.update().where(
                resets.c.id == reset_id, resets.c.learner == learner, resets.c.done.is_(None)
            ).values(done=time.time(), outcome=outcome[:2000]))
            return bool(done.rowcount)

    def last_resets(self) -> dict[tuple[str, str], dict]:
        """The latest reset of each learner and lesson (pending or done)."""
        latest: dict[tuple[str, str], dict] = {}
        with self.db.connect() as connection:
            for row in connection.execute(sa.select(resets).order_by(resets.c.id)):
                latest[(row.learner, row.lesson)] = dict(row._mapping)
        return latest


__all__ = ["Store", "default_url", "event_key", "COMMON"]
