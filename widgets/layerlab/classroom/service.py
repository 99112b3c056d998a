"""`python -m layerlab.classroom.service`: the hub-managed service `layerlab-classroom`.

Routes (under $JUPYTERHUB_SERVICE_PREFIX, /services/layerlab-classroom/):

    GET  ./               the instructor page (hub admins only, through the hub's OAuth login)
    GET  api/learners     the page's data, JSON (admins only)
    POST api/resets       {"learner", "lesson"}: queue a lesson reset (admins only, xsrf-checked)
    POST api/events       {"events": [...]}: progress events (a learner's hub token, own events only)
    POST api/heartbeat    {"engine": {"up", "version", "rootless"}, "disk_bytes", "error"}:
                          the learner's engine facts; the reply lists their pending resets
    POST api/resets/ack   {"id", "outcome"}: the learner's server ran a reset

Admin pages use HubOAuth (cookie after the hub's login); the learner API uses HubAuth with the
`Authorization: token ...` header only, so a browser's cookie never posts for a learner.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubAuth, HubAuthenticated, HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import httpclient, ioloop, web

from .hubconfig import DB_ENV, SERVICE, STATE_ENV
from .page import PAGE
from .store import Store, default_url
from .summary import learner_summary

log = logging.getLogger("layerlab.classroom")
LESSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Hub:
    """The hub's REST API, with the service's own token (list:users, read:users, read:servers)."""

    def __init__(self, api_url: str, token: str, cache_seconds: float = 2.0):
        self.api_url, self.token, self.cache_seconds = api_url.rstrip("/"), token, cache_seconds
        self._users: tuple[float, list[dict]] | None = None

    async def users(self) -> list[dict]:
        if self._users and time.monotonic() - self._users[0] < self.cache_seconds:
            return self._users[1]
        response = await httpclient.AsyncHTTPClient().fetch(
            f"{self.api_url}/users", headers={"Authorization": f"token {self.token}"}, request_timeout=10)
        users = json.loads(response.body)
        self._users = (time.monotonic(), users)
        return users

    async def is_admin(self, name: str) -> bool:
        return any(user["name"] == name and user.get("admin") for user in await self.users())


class Base(web.RequestHandler):
    def initialize(self, auth):
        self.hub_auth = auth

    @property
    def store(self) -> Store:
        return self.settings["store"]

    @property
    def hub(self) -> Hub:
        return self.settings["hub"]

    def body_json(self) -> dict:
        try:
            value = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(value, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        return value

    def reply(self, value, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(value))


class AdminHandler(HubOAuthenticated, Base):
    """Logged in through the hub (OAuth cookie), and a hub admin; anyone else: 403."""

    def check_xsrf_cookie(self):
        # A token in the header (a script, not a browser) needs no xsrf token: identify it first.
        # Only then: HubOAuth's cookie check itself calls this method, and identifying from
        # inside it would wait on HubOAuth's one worker thread, which is busy with that check.
        if self.request.headers.get("Authorization", "").lower().startswith(("token ", "bearer ")):
            self.current_user  # noqa: B018
            if getattr(self, "_token_authenticated", False):
                return None
        return super().check_xsrf_cookie()

    async def prepare(self):
        user = self.current_user
        if user is None:
            return  # @web.authenticated redirects to the hub's login (GET) or refuses (POST)
        if user.get("kind") != "user" or not await self.hub.is_admin(user["name"]):
            raise web.HTTPError(403, "the instructor page is for the hub's admins")


class LearnerHandler(HubAuthenticated, Base):
    """A learner's server, with the learner's hub token in `Authorization: token ...`."""

    def check_xsrf_cookie(self):
        return  # HubAuth reads only the Authorization header: no cookie, nothing to forge

    def get_login_url(self):
        raise web.HTTPError(403, "send the learner's hub token")

    def learner(self) -> str:
        user = self.current_user
        if not user or user.get("kind") != "user":
            raise web.HTTPError(403, "only a hub user's token may post here")
        return user["name"]


class Callback(HubOAuthCallbackHandler):
    """The end of the hub's OAuth login, with the same HubOAuth as the pages."""

    def initialize(self, auth):
        self.hub_auth = auth


class PageHandler(AdminHandler):
    @web.authenticated
    def get(self):
        self.set_header("Cache-Control", "no-store")
        self.finish(PAGE.replace("{{xsrf}}", web.escape.xhtml_escape(self.xsrf_token))
                    .replace("{{admin}}", web.escape.xhtml_escape(self.current_user["name"])))


class LearnersHandler(AdminHandler):
    @web.authenticated
    async def get(self):
        self.reply(await room(self.hub, self.store))


async def room(hub: Hub, store: Store) -> list[dict]:
    """Every hub user who is a learner (not an admin), with what the store holds of them."""
    users = [user for user in await hub.users() if not user.get("admin")]
    beats, resets = store.heartbeats(), store.last_resets()
    by_learner: dict[str, list[dict]] = {}
    for event in store.events_of():
        by_learner.setdefault(event["learner"], []).append(event)
    return [learner_summary(user["name"], user, by_learner.get(user["name"], []), beats.get(user["name"]), resets)
            for user in sorted(users, key=lambda user: user["name"])]


class ResetsHandler(AdminHandler):
    @web.authenticated
    async def post(self):
        body = self.body_json()
        learner, lesson = body.get("learner"), body.get("lesson")
        if not isinstance(learner, str) or not isinstance(lesson, str) or not LESSON.fullmatch(lesson):
            raise web.HTTPError(400, "name a learner and a lesson (like 01-layers)")
        if not any(user["name"] == learner for user in await self.hub.users()):
            raise web.HTTPError(404, f"no hub user {learner}")
        reset_id = self.store.ask_reset(learner, lesson, self.current_user["name"])
        log.info("reset of %s for %s asked by %s", lesson, learner, self.current_user["name"])
        self.reply({"id": reset_id, "learner": learner, "lesson": lesson, "state": "pending"}, 201)


class EventsHandler(LearnerHandler):
    @web.authenticated
    def post(self):
        learner = self.learner()
        body = self.body_json()
        batch = body.get("events")
        if not isinstance(batch, list):
            raise web.HTTPError(400, 'send {"events": [...]}')
        others = sorted({str(e.get("learner")) for e in batch if isinstance(e, dict) and e.get("learner") != learner})
        if others:
            raise web.HTTPError(403, f"{learner} may post only their own events, not {others}")
        try:
            added, seen = self.store.add_events(batch)
        except ValueError as error:
            raise web.HTTPError(400, str(error)) from None
        self.reply({"added": added, "already_stored": seen})


class HeartbeatHandler(LearnerHandler):
    @web.authenticated
    def post(self):
        learner = self.learner()
        body = self.body_json()
        engine = body.get("engine") if isinstance(body.get("engine"), dict) else {}
        disk = body.get("disk_bytes")
        self.store.beat(learner, bool(engine.get("up")), _text(engine.get("version")),
                        engine.get("rootless") if isinstance(engine.get("rootless"), bool) else None,
                        disk if isinstance(disk, int) and not isinstance(disk, bool) else None,
                        _text(body.get("error")))
        pending = [{"id": r["id"], "lesson": r["lesson"]} for r in self.store.pending_resets(learner)]
        self.reply({"learner": learner, "resets": pending})


class AckHandler(LearnerHandler):
    @web.authenticated
    def post(self):
        learner = self.learner()
        body = self.body_json()
        if not isinstance(body.get("id"), int):
            raise web.HTTPError(400, "name the reset's id")
        done = self.store.ack_reset(learner, body["id"], _text(body.get("outcome")) or "done")
        self.reply({"id": body["id"], "acknowledged": done}, 200 if done else 404)


def _text(value) -> str | None:
    return None if value is None else str(value)[:2000]


def cookie_secret(state: Path) -> bytes:
    """Kept in the state folder (0600), so an admin stays logged in across service restarts."""
    path = state / "cookie_secret"
    if not path.exists():
        descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def make_app(store: Store, hub: Hub, prefix: str, state: Path) -> web.Application:
    oauth, token_only = HubOAuth(), HubAuth()
    admin, learner = {"auth": oauth}, {"auth": token_only}
    return web.Application([
        (prefix, PageHandler, admin),
        (prefix + "oauth_callback", Callback, admin),
        (prefix + "api/learners", LearnersHandler, admin),
        (prefix + "api/resets", ResetsHandler, admin),
        (prefix + "api/events", EventsHandler, learner),
        (prefix + "api/heartbeat", HeartbeatHandler, learner),
        (prefix + "api/resets/ack", AckHandler, learner),
    ], store=store, hub=hub, cookie_secret=cookie_secret(state), xsrf_cookies=True)


def main() -> None:
    import faulthandler

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` prints every thread's stack to the log
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s layerlab-classroom] %(message)s")
    state = Path(os.environ.get(STATE_ENV) or Path.cwd() / SERVICE)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = os.environ.get(DB_ENV) or default_url(state)
    store = Store(url)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE}/")
    hub = Hub(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    app = make_app(store, hub, prefix, state)
    bind = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    if bind.hostname not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"layerlab-classroom listens on loopback only, not {bind.hostname}")
    app.listen(bind.port, address="127.0.0.1", xheaders=True)
    log.info("serving %s on 127.0.0.1:%s, database %s", prefix, bind.port, url.split("://", 1)[0])
    loop = ioloop.IOLoop.current()
    signal.signal(signal.SIGTERM, lambda *_: loop.add_callback_from_signal(loop.stop))
    try:
        loop.start()
    except KeyboardInterrupt:
        pass
    store.close()
    log.info("stopped")


if __name__ == "__main__":
    main()
