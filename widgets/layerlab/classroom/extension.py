"""The Jupyter server extension in each learner's server: the classroom's sender.

Every few seconds ($LAYERLAB_CLASSROOM_EVERY, default 5) it

  (a) forwards the new lines of the learner's progress record to the service's `api/events`
      (the offset it reached is kept beside the record, so each event is sent once; the
      service stores an event once anyway);
  (b) sends a heartbeat with the engine's facts (version, rootless, disk use; down when the
      engine does not answer) to `api/heartbeat`;
  (c) runs the lesson resets the heartbeat's reply asks for (the course's lesson cleanup) and
      acknowledges each.

It speaks HTTP only, to $LAYERLAB_CLASSROOM_URL with the server's $JUPYTERHUB_API_TOKEN, so it
works the same on one machine and on Kubernetes. A failure is logged once (until it changes or
heals) and never stops the server. Outside a hub (no URL or no token) it does nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Mapping

from tornado import httpclient, ioloop

from ..core.naming import learner_id
from ..core.progress import is_event, progress_path

URL_ENV = "LAYERLAB_CLASSROOM_URL"
EVERY_ENV = "LAYERLAB_CLASSROOM_EVERY"
#: The engine's disk use is measured at most this often (`system df` walks every layer).
DISK_EVERY = 30.0
#: At most this many events per post.
BATCH = 200


def _jupyter_server_extension_points():
    return [{"module": "layerlab.classroom.extension"}]


def _load_jupyter_server_extension(serverapp):
    sender = Sender.from_environ(os.environ, serverapp.log)
    if sender is None:
        serverapp.log.info("layerlab classroom: no %s or JUPYTERHUB_API_TOKEN; not sending progress", URL_ENV)
        return
    serverapp.log.info("layerlab classroom: sending progress of %s to %s every %s s",
                       sender.learner, sender.url, sender.every)
    serverapp.io_loop.add_callback(sender.start) if getattr(serverapp, "io_loop", None) else sender.start()
    serverapp.layerlab_classroom = sender


class Sender:
    def __init__(self, url: str, token: str, learner: str, environ: Mapping[str, str], every: float = 5.0,
                 log: logging.Logger | None = None):
        self.url = url if url.endswith("/") else url + "/"
        self.token, self.learner, self.every = token, learner, every
        self.environ = dict(environ)
        self.log = log or logging.getLogger("layerlab.classroom")
        self.record = progress_path(learner, self.environ)
        self.offset_file = self.record.with_name(self.record.name + ".sent") if self.record else None
        self._failing: dict[str, str] = {}
        self._disk: tuple[float, int | None] = (-DISK_EVERY, None)
        self._busy = False
        self._timer: ioloop.PeriodicCallback | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], log=None) -> "Sender | None":
        url, token = environ.get(URL_ENV), environ.get("JUPYTERHUB_API_TOKEN")
        if not url or not token:
            return None
        every = float(environ.get(EVERY_ENV) or 5.0)
        return cls(url, token, learner_id(environ), environ, every, log)

    def start(self) -> None:
        self._timer = ioloop.PeriodicCallback(self.tick, self.every * 1000)
        self._timer.start()
        ioloop.IOLoop.current().add_callback(self.tick)

    def stop(self) -> None:
        if self._timer:
            self._timer.stop()

    async def tick(self) -> None:
        if self._busy:
            return  # the last round is still running (a slow engine): skip this one
        self._busy = True
        try:
            await self._step("events", self.forward_events)
            resets = await self._step("heartbeat", self.heartbeat)
            for reset in resets or []:
                await self._step("reset", self.run_reset, reset)
        finally:
            self._busy = False

    async def _step(self, what: str, action, *args):
        """Run one part of a round; log a failure once, and when it heals."""
        try:
            result = await action(*args)
        except Exception as error:  # noqa: BLE001 - nothing here may stop the learner's server
            text = f"{type(error).__name__}: {error}"
            if self._failing.get(what) != text:
                self.log.warning("layerlab classroom: %s failed: %s", what, text)
                self._failing[what] = text
            return None
        if self._failing.pop(what, None):
            self.log.info("layerlab classroom: %s works again", what)
        return result

    async def post(self, path: str, body: dict) -> dict:
        response = await httpclient.AsyncHTTPClient().fetch(
            self.url + path, method="POST", body=json.dumps(body), request_timeout=15,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        return json.loads(response.body or b"{}")

    # -- (a) the progress record ---------------------------------------------------------------
    def _offset(self) -> int:
        try:
            return int(self.offset_file.read_text())
        except (OSError, ValueError, AttributeError):
            return 0

    def _save_offset(self, offset: int) -> None:
        tmp = self.offset_file.with_name(self.offset_file.name + ".tmp")
        tmp.write_text(str(offset))
        os.replace(tmp, self.offset_file)

    def new_events(self) -> tuple[list[dict], int]:
        """The whole lines after the saved offset that are this learner's events; the new offset."""
        if self.record is None or not self.record.exists():
            return [], 0
        offset = self._offset()
        if offset > self.record.stat().st_size:
            offset = 0  # the record was replaced: send it again (the service dedupes)
        with self.record.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read(1 << 20)
        end = chunk.rfind(b"\n") + 1  # a line still being written waits for the next round
        found = []
        for raw in chunk[:end].splitlines():
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if is_event(value) and value["learner"] == self.learner:
                found.append(value)
        return found, offset + end

    async def forward_events(self) -> int:
        events, offset = await asyncio.get_running_loop().run_in_executor(None, self.new_events)
        for start in range(0, len(events), BATCH):
            await self.post("api/events", {"events": events[start:start + BATCH]})
        if offset and offset != self._offset():
            self._save_offset(offset)
        return len(events)

    # -- (b) the heartbeat ---------------------------------------------------------------------
    def engine_facts(self) -> dict:
        """What the engine says of itself now; {"engine": {"up": False}, "error": ...} when it is down."""
        from ..engine import connect

        try:
            engine = connect({**self.environ, "LAYERLAB_SOURCE": "live"}, timeout=5, ask_buildx=False)
        except Exception as error:  # noqa: BLE001 - a down engine is a fact to report
            return {"engine": {"up": False, "version": None, "rootless": None}, "disk_bytes": None,
                    "error": str(getattr(error, "what", None) or error)[:500]}
        try:
            disk = self._disk_bytes(engine)
            return {"engine": {"up": True, "version": engine.facts.engine_version,
                               "rootless": engine.facts.rootless}, "disk_bytes": disk, "error": None}
        finally:
            engine.close()

    def _disk_bytes(self, engine) -> int | None:
        import time

        measured, value = self._disk
        if time.monotonic() - measured >= DISK_EVERY or value is None:
            try:
                value = engine.disk_bytes()
            except Exception:  # noqa: BLE001 - the version still counts without the size
                value = None
            self._disk = (time.monotonic(), value)
        return value

    async def heartbeat(self) -> list[dict]:
        facts = await asyncio.get_running_loop().run_in_executor(None, self.engine_facts)
        reply = await self.post("api/heartbeat", facts)
        return reply.get("resets") or []

    # -- (c) resets ----------------------------------------------------------------------------
    def cleanup(self, lesson: str) -> str:
        from ..engine import connect
        from ..engine.cleanup import cleanup

        engine = connect({**self.environ, "LAYERLAB_SOURCE": "live"}, timeout=10, ask_buildx=False)
        try:
            return "\n".join(cleanup(engine, lesson=lesson).lines())
        finally:
            engine.close()

    async def run_reset(self, reset: dict) -> None:
        lesson = str(reset["lesson"])
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(None, self.cleanup, lesson)
        except Exception as error:  # noqa: BLE001 - the instructor sees why it did not run
            outcome = f"failed: {getattr(error, 'what', None) or error}"
        self.log.info("layerlab classroom: reset of %s: %s", lesson, outcome.replace("\n", "; "))
        await self.post("api/resets/ack", {"id": reset["id"], "outcome": outcome})
