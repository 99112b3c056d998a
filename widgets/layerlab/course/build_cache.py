"""Lesson 03, the build cache: builds with every builder the engine has, shown as they run,
and the predict-then-build exercise.

    view = CacheBuilds(lesson, "sample", folder)
    view.run("build 1: from scratch", nocache=True)   # shows the live table, then builds
    print(view.text("classic"))

    quiz = CacheExercise(lesson, "touch")   # writes the context, builds it once (warm cache)
    quiz.widget()                            # one HIT/MISS toggle per step, and a Build button
    quiz.answer("MISS", "MISS", "MISS")      # ... or answer in code
    result = quiz.check()                    # makes the change, builds, scores, explains
    print(result.summary())

The notebook imports everything it uses from here.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from ..core.build import BuildRecord, CacheStatus
from ..core.cacherule import rebuild_story
from ..core.cachequiz import (
    apply_change,
    check_prediction,
    mark_run,
    predictable_steps,
    scenario,
    score,
    write_exercise_context,
)
from ..core.errors import LayerlabError
from ..core.i18n import N_, _, shown
from ..core.model import BuilderKind
from ..core.sample_app import write_sample_context
from ..core.text import tr
from ..views.buildcache import BuildCacheState, BuildCacheView
from ..views.exercise import ExerciseResult, exercise_widget
from .builds import available_builders, build
from .lesson import Lesson

__all__ = [
    "AddUrlCache", "BuilderKind", "CacheBuilds", "CacheExercise", "StaleRun", "add_url_cache", "apply_change",
    "mark_run", "rebuild_story",
    "scenario", "stale_run", "write_sample_context",
]

#: A RUN step whose result depends on when it runs, as `apt-get update`'s does on the mirror.
STALE_STEP = "RUN date -u +%Y-%m-%dT%H:%M:%S.%N > /built-at"


class CacheBuilds:
    """Build a context with every builder the engine has; the view shows each step as it runs."""

    def __init__(self, lesson: Lesson, name: str, context, dockerfile: str = "Dockerfile", builders=None,
                 title: str = ""):
        self.lesson = lesson
        self.engine = lesson.engine
        self.name = name
        self.context = context
        self.dockerfile = dockerfile
        have = available_builders(self.engine)
        self.builders = [b for b in (builders or have) if b in have]
        state = BuildCacheState(title=title)
        if BuilderKind.BUILDKIT not in have:
            state.absent[BuilderKind.BUILDKIT] = _(
                "not on this engine (Docker {version} has no `docker buildx`): "
                "only the classic builder is shown"
            ).format(version=self.engine.facts.engine_version)
        self.view = BuildCacheView(state)

    @property
    def state(self) -> BuildCacheState:
        return self.view.state

    def build(self, title: str = "", nocache: bool = False) -> dict[BuilderKind, BuildRecord]:
        """Build once with each builder; the view redraws while the steps come in."""
        if title:
            self.state.title = title
        done = {}
        for builder in self.builders:
            record = build(
                self.engine, builder, self.lesson.namespace, self.name, self.context,
                dockerfile=self.dockerfile, nocache=nocache, on_update=self.view.on_update,
                title=title or self.state.title,
            )
            self.state.put(record)
            self.state.history.append(record)
            done[builder] = record
            self.view.redraw(force=True)
        return done

    def run(self, title: str = "", nocache: bool = False) -> None:
        """Show the live table here, then build (the notebook's one-liner)."""
        self.view.show()
        self.build(title=title, nocache=nocache)

    def record(self, builder: BuilderKind = BuilderKind.CLASSIC) -> BuildRecord:
        return self.view.record(builder)

    def text(self, builder: BuilderKind | str | None = None) -> str:
        return self.view.text(builder)

    def html(self) -> str:
        return self.view.html()

    def drawing(self):
        """Each builder's stack, the build before beside the last one, as a plain output."""
        return self.view.drawing()

    def agreement(self) -> str:
        return self.view.agreement()

    def widget(self):
        return self.view.widget()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.view._repr_mimebundle_(include, exclude)


class CacheExercise:
    """One scenario of the predict-then-build exercise, on the lesson's engine."""

    def __init__(self, lesson: Lesson, scenario_key: str, warm: bool = True):
        self.lesson = lesson
        self.scenario = scenario(scenario_key)
        base = lesson.base("app", quiet=True)
        self.folder = lesson.context(f"quiz-{self.scenario.key}")
        self.dockerfile = write_exercise_context(self.folder, base.reference, self.scenario.dockerfile)
        # A shared engine shares its build cache: this run's context must be its own, or another
        # learner's identical build (the same change included) would answer for it.
        mark_run(self.folder, lesson.namespace.learner, secrets.token_hex(6))
        self.steps = predictable_steps(self.dockerfile)
        self.view = CacheBuilds(lesson, f"quiz-{self.scenario.key}", self.folder, title=tr(self.scenario.title))
        self.predictions: dict[int, CacheStatus] | None = None
        self.result: ExerciseResult | None = None
        if warm:
            # The first build fills the cache; the exercise is about the build after the change.
            self.view.build(title=_("{title}: before the change").format(title=tr(self.scenario.title)))

    def describe(self) -> str:
        from ..core.dockerfile import parse_dockerfile

        numbered = "\n".join(
            f"  {n}. {i.text}" for n, i in enumerate(parse_dockerfile(self.dockerfile), start=1) if i.keyword != "FROM"
        )
        return _("{title}. {what_you_do}\nPredict HIT or MISS for:\n{steps}").format(
            title=tr(self.scenario.title), what_you_do=tr(self.scenario.what_you_do), steps=numbered)

    def answer(self, *answers) -> dict[int, CacheStatus]:
        """`answer("HIT", "MISS", ...)` in step order (FROM left out), or `answer({2: "HIT"})`."""
        given = answers[0] if len(answers) == 1 and isinstance(answers[0], dict) else list(answers)
        self.predictions = check_prediction(self.dockerfile, given)
        return self.predictions

    def check(self) -> ExerciseResult:
        """Make the change, build with every builder, score the prediction."""
        if self.predictions is None:
            raise LayerlabError(_("There is no prediction to check yet."), _("Answer HIT or MISS for each step first."))
        change = apply_change(self.folder, self.scenario, secrets.token_hex(6))
        records = self.view.build(title=_("{title}: after the change").format(title=tr(self.scenario.title)))
        scores = {builder: score(self.scenario, self.predictions, record) for builder, record in records.items()}
        self.result = ExerciseResult(self.scenario, change, scores, records)
        for builder, result in scores.items():
            self.lesson.record_event("exercise", exercise=f"{self.lesson.id}.{self.scenario.key}",
                                     builder=builder.value, right=result.right, total=result.total,
                                     passed=result.perfect)
        return self.result

    def widget(self):
        """The toggles and the button (the view); a click answers, builds and checks."""
        def on_check(answers) -> str:
            self.answer(answers)
            return self.check().html()

        return exercise_widget(self.scenario, self.dockerfile, on_check, below=self.view.widget())


@dataclass(frozen=True)
class StaleRun:
    """Three builds of one Dockerfile whose RUN step writes the time it ran."""

    dockerfile: str
    statuses: tuple[CacheStatus, CacheStatus, CacheStatus]  # the RUN step in builds 1, 2, 3
    built_at: tuple[str, str, str]  # what /built-at says in each build's image

    def summary(self) -> str:
        first, second, third = self.statuses
        return "\n".join([
            _("build 1 (--no-cache): the RUN step {status}").format(status=first.label),
            _("build 2 (nothing changed): the RUN step {status}; "
              "/built-at still holds build 1's time: {same}").format(
                status=second.label, same=self.built_at[1] == self.built_at[0]),
            _("build 3 (--no-cache again): the RUN step {status}; "
              "/built-at now holds a new time: {new}").format(
                status=third.label, new=self.built_at[2] != self.built_at[0]),
        ])


def stale_run(lesson: Lesson, base_reference: str, builder: BuilderKind = BuilderKind.CLASSIC) -> StaleRun:
    """Build a RUN step that records the time three times: from scratch, again, and with
    --no-cache; read the time each image holds (in a container with no network, removed)."""
    folder = lesson.context(f"stale-{builder.name.lower()}")
    dockerfile = f"FROM {base_reference}\n{STALE_STEP}\n"
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    builds = CacheBuilds(lesson, f"stale-{builder.name.lower()}", folder, builders=[builder])
    statuses, times = [], []
    for title, nocache in ((N_("build 1"), True), (N_("build 2"), False), (N_("build 3"), True)):
        record = builds.build(title=_(title), nocache=nocache)[builder]
        if not record.ok:
            raise LayerlabError(_("The {title} of the RUN demo failed: {message}").format(
                title=_(title), message=record.failure.message),
                _("Check that the base image has `date` (run the setup notebook again)."))
        statuses.append(record.step(2).status)
        with lesson.container("stale-read", record.image_id, ["cat", "/built-at"]) as box:
            box.wait(timeout=60)
            times.append(box.logs().strip())
    return StaleRun(dockerfile, tuple(statuses), tuple(times))


# -- how ADD <url> is cached --------------------------------------------------------------------

#: What each build of the ADD <url> demo does to the served file first.
ADD_URL_ROUNDS = (
    (N_("build 1"), ""),
    (N_("build 2 (nothing changed)"), ""),
    (N_("build 3 (the same bytes written again: a newer Last-Modified)"), "rewrite"),
    (N_("build 4 (other bytes)"), "change"),
)


def describe_request(request: dict) -> str:
    """`GET 200`, `HEAD 304 (If-None-Match)`: one request the server answered."""
    asked = " (If-None-Match)" if request.get("conditional") else ""
    return f"{request['method']} {request['status']}{asked}"


@dataclass(frozen=True)
class AddUrlRound:
    title: str
    add: CacheStatus
    run: CacheStatus
    requests: tuple[str, ...]  # what the server answered during this build

    @property
    def downloaded(self) -> bool:
        return any(r.startswith("GET 200") for r in self.requests)


@dataclass(frozen=True)
class AddUrlCache:
    """Four builds of `ADD <url>` + a RUN, with what the server was asked each time."""

    builder: str
    dockerfile: str
    rounds: tuple[AddUrlRound, ...]

    def summary(self) -> str:
        lines = [f"{self.builder}:"]
        for r in self.rounds:
            if not r.requests:
                template = _("{title}: ADD {add}, RUN {run}; the server answered nothing")
            elif r.downloaded:
                template = _("{title}: ADD {add}, RUN {run}; the server answered {requests} (a download)")
            else:
                template = _("{title}: ADD {add}, RUN {run}; the server answered {requests}")
            lines.append("  " + template.format(title=_(r.title), add=r.add.label, run=r.run.label,
                                                requests=", ".join(r.requests)))
        return "\n".join(lines)


def add_url_cache(lesson: Lesson, base_reference: str, builder: BuilderKind = BuilderKind.CLASSIC) -> AddUrlCache:
    """Build `ADD <url>` four times (as is, again, the same bytes rewritten, other bytes) while
    the course's server says what it was asked; the server sends ETags, as real ones do."""
    from ..engine.fileserve import serve_for_engine

    name = f"addurl-{builder.name.lower()}"
    folder, served = lesson.context(name), lesson.context(f"{name}-served")
    release = served / "release.txt"
    # Bytes no build has seen: BuildKit keeps what it downloaded (and its ETag) across builds
    # and URLs, and would answer a repeat from its own store.
    token = secrets.token_hex(6)
    release.write_text(f"release 1 ({token})\n", encoding="utf-8")
    rounds = []
    with serve_for_engine(lesson.engine, served) as server:
        if not server.url:
            raise LayerlabError(shown(server.plan.why), _("Run this part on an engine on your own machine, or from the recording."))
        dockerfile = f"FROM {base_reference}\nADD {server.url}/release.txt /release.txt\nRUN cat /release.txt\n"
        (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        for index, (title, change) in enumerate(ADD_URL_ROUNDS):
            if change == "rewrite":
                release.write_text(f"release 1 ({token})\n", encoding="utf-8")
                stat = release.stat()
                os.utime(release, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # 2 s newer
            elif change == "change":
                release.write_text(f"release 2 ({token})\n", encoding="utf-8")
            before = len(server.requests())
            record = build(lesson.engine, builder, lesson.namespace, name, folder)
            if not record.ok:
                raise LayerlabError(_("The {title} of the ADD <url> demo failed: {message}").format(
                    title=_(title), message=record.failure.message),
                    _("Run the cell again; if it fails again, run the setup notebook (00)."))
            seen = [describe_request(r) for r in server.requests()[before:]]
            seen = lesson.engine.notes.value(f"add-url-cache:{name}:{index}", seen)  # a replay has no server
            rounds.append(AddUrlRound(title, record.step(2).status, record.step(3).status, tuple(seen)))
    return AddUrlCache(builder.value, dockerfile, tuple(rounds))
