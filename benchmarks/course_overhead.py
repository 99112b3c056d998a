"""What the course costs on top of its engine work: each lesson, live, against a bare script.

    .venv/bin/python benchmarks/course_overhead.py [--runs 3] [--lessons 01,02,03,04,05,06]

For each lesson and run, side by side (course, then bare, alternating):

- course: the lesson's notebook, executed with nbclient in a fresh kernel of this venv, live
  against the engine (DOCKER_HOST). Timed: the sum of the code cells' execution times. Kernel
  start-up and shut-down are EXCLUDED (they are not engine work and no learner waits for them
  more than once); `import layerlab`, the widgets, drawings, watchers and the lesson's own
  clean-up cell are INCLUDED (they are the course).
- bare: one plain function per lesson making the same heavy engine calls with the docker
  SDK's low-level `APIClient` (and `docker buildx build` for BuildKit, as the course does):
  the same Dockerfiles and contexts (written with the course's pure file helpers), classic
  builds (labels as one LABEL step, no network, rm/forcerm), containers run, waited for, read
  and removed, execs, commits, `docker save`s read to the end, and the removal of what it
  made. Left out: the course's reads that serve only its drawings (`/images/json`,
  histories, repeated inspects, the copy-up watcher's polling): overhead by definition. The
  recordings hold request keys, not bodies or build contexts, so they cannot be replayed; the
  order of work follows them. The SDK is imported before timing. Stand-ins: `ADD <url>`
  (lessons 03, 04) is served by `http.server` on 127.0.0.1; lesson 05's explorer matrix is
  ten images of the same shape, each built and run.

Build cache: after each course run, `python -m layerlab cleanup --lesson L` (untimed; the
notebook's own clean-up cell already ran, timed) removes the lesson's images, so the classic
builder is cold for the lesson's own steps on both sides (bases are kept, as a learner has
them). BuildKit's cache is content-addressed and is never pruned here: each side's BuildKit
builds follow the other side's run, so both see the same (warm) state from run 1's bare side
on. Lesson 03 writes random tokens into its contexts on both sides, as the course does.

Engine requests: the bare side counts its HTTP requests (and CLI runs); the course's count is
from the lesson's recording (the same notebook on the same engine kind).
Figures only: the target (course at most 1.3x the bare script) is reported, never asserted.
Everything the bare side makes carries the course labels with lesson `bench-overhead-NN` and
the learner, is named for the learner, runs with `network_mode="none"`, pulls nothing, and is
removed by those labels at the end (in a finally), and nothing else.
Last line: `course_overhead: 01 1.12x, 02 1.08x, ...` (median course time / median bare time).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "widgets"))

import docker  # noqa: E402
import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

from layerlab.core.cachequiz import apply_change, mark_run, scenario, write_exercise_context  # noqa: E402
from layerlab.core.naming import learner_id  # noqa: E402
from layerlab.core.sample_app import write_sample_context  # noqa: E402
from layerlab.course.build_cache import STALE_STEP  # noqa: E402
from layerlab.course.instructions import DEMOS, write_context, write_release  # noqa: E402
from layerlab.replay.store import Recording, recording_path  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
LESSONS = {"01": "01-layers", "02": "02-copy-on-write", "03": "03-build-cache", "04": "04-instructions",
           "05": "05-cmd-entrypoint", "06": "06-layer-costs"}
TARGET = 1.3


class CountingClient(docker.APIClient):
    requests_sent = 0  # the HTTP requests it sent

    def request(self, *args, **kwargs):
        self.requests_sent += 1
        return super().request(*args, **kwargs)


class Bare:
    """The engine calls of one lesson, with nothing of the course around them."""

    def __init__(self, api: CountingClient, number: str, learner: str, work: Path):
        self.api, self.number, self.learner, self.work = api, number, learner, work
        self.lesson = f"bench-overhead-{number}"
        self.labels = {"layerlab.course": "layerlab", "layerlab.lesson": self.lesson, "layerlab.learner": learner}
        self.cli_runs = 0
        self.containers: list[str] = []
        self.steps: list[str] = []
        self.app = f"layerlab-{learner}/base-debian-app:bookworm"
        self.ping = f"layerlab-{learner}/base-busybox:1.35.0"

    def image(self, name: str, tag: str = "latest") -> str:  # named for the learner, as the course names
        return f"layerlab-{self.learner}/{self.lesson}-{name}:{tag}"

    def folder(self, name: str) -> Path:
        (self.work / name).mkdir(parents=True, exist_ok=True)  # every name is used once per run
        return self.work / name

    def build(self, name: str, context: Path, tag: str = "latest", nocache: bool = False) -> str | None:
        """A classic build as the course makes it: the labels as one LABEL step after the Dockerfile."""
        text = (context / "Dockerfile").read_text()
        label = "LABEL " + " ".join(f'"{k}"="{v}"' for k, v in self.labels.items())
        (context / ".bare.Dockerfile").write_text(text.rstrip("\n") + "\n" + label + "\n")
        image_id = None  # and every step's id: a failed build leaves its steps, with the base's labels only
        for chunk in self.api.build(path=str(context), dockerfile=".bare.Dockerfile", tag=self.image(name, tag),
                                    network_mode="none", rm=True, forcerm=True, nocache=nocache, decode=True):
            image_id = chunk.get("aux", {}).get("ID", image_id)
            self.steps += re.findall(r"^ ---> ([0-9a-f]{12})$", chunk.get("stream", ""), re.M)
        return image_id

    def buildkit(self, name: str, context: Path, nocache: bool = False) -> None:
        labels = [arg for k, v in self.labels.items() for arg in ("--label", f"{k}={v}")]
        command = ["docker", "buildx", "build", "--network=none", "--progress=rawjson", "-t",
                   self.image(name, "buildkit"), "-f", "Dockerfile", *labels, *(["--no-cache"] if nocache else []), "."]
        subprocess.run(command, cwd=context, capture_output=True)
        self.cli_runs += 1

    def both(self, name: str, context: Path, nocache: bool = False) -> None:  # lesson 03's CacheBuilds
        self.build(name, context, tag="classic", nocache=nocache), self.buildkit(name, context, nocache=nocache)

    def run(self, name: str, image: str, command=None, wait: bool = True, entrypoint=None, remove: bool = False):
        container = self.api.create_container(
            image, command, entrypoint=entrypoint, labels=self.labels, name=f"layerlab-{self.learner}-{self.lesson}-"
            f"{name}-{secrets.token_hex(3)}", host_config=self.api.create_host_config(network_mode="none"))["Id"]
        self.containers.append(container)
        self.api.start(container)
        if wait:
            self.api.wait(container, timeout=120)
            self.api.logs(container)
        if remove:
            self.rm(container)
        return container

    def exec(self, container: str, command) -> int:
        exec_id = self.api.exec_create(container, command)["Id"]
        self.api.exec_start(exec_id)
        return self.api.exec_inspect(exec_id)["ExitCode"]

    def save(self, image: str) -> int:  # `docker save`, read to the end
        return sum(len(chunk) for chunk in self.api.get_image(image))

    def rm(self, container: str) -> None:
        self.api.remove_container(container, force=True, v=True)
        self.containers.remove(container)

    def finish(self) -> None:
        """What the lesson's clean-up cell does: every container and image of this lesson, by label."""
        remove_labeled(self.api, self.labels)
        for step in self.steps:  # untagged ones of this learner only: the bases are tagged
            try:
                found = self.api.inspect_image(step)
                if not found.get("RepoTags") and (found["Config"].get("Labels") or {}).get(
                        "layerlab.learner") == self.learner:
                    self.api.remove_image(step)
            except docker.errors.APIError:
                pass  # gone with its child, or still a parent


def remove_labeled(api, labels: dict) -> None:
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    for container in api.containers(all=True, filters=filters):
        api.remove_container(container["Id"], force=True, v=True)
    for _ in range(3):  # a removed child can leave an untagged parent with the same labels
        images = api.images(all=True, filters=filters)
        if not images:
            return
        for image in images:
            try:
                api.remove_image(image["Id"], force=True)
            except docker.errors.APIError:
                pass


def write_files(folder: Path, files: dict) -> Path:  # lesson 06's helper: an int is that many zero bytes
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * content if isinstance(content, int) else content.encode())
    return folder


class Served:
    """A folder served over HTTP on 127.0.0.1 (the engine's daemon runs on this host)."""

    def __init__(self, folder: Path):
        quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=folder))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the lessons, bare ----------------------------------------------------------------------------


def bare_01(b: Bare) -> None:
    sample = b.folder("sample")
    write_sample_context(sample, b.app)
    b.build("sample", sample, nocache=True)
    image = b.image("sample")
    b.run("hello", image, remove=True)
    b.run("seed-make", image, ["make", "/app"], remove=True)
    b.save(image)
    b.save(b.app)
    writer = b.run("writer", image, ["python", "/app/app.py", "writer"])
    b.api.diff(writer)
    visitors = [b.run(f"visitor{n}", image, ["python", "/app/app.py", f"visitor-{n}"]) for n in (1, 2, 3)]
    b.rm(visitors[0]), b.rm(visitors[1])
    slim = b.folder("slim")
    (slim / "Dockerfile").write_text(f"FROM {image}\nRUN rm /app/message.txt && rm -rf /app/build && mkdir /app/build"
                                     " && echo rebuilt > /app/build/note.txt\n")
    b.build("slim", slim, nocache=True)
    b.save(b.image("slim"))
    b.rm(writer), b.rm(visitors[2])


def bare_02(b: Bare) -> None:
    cow = b.folder("cow")
    (cow / "Dockerfile").write_text(
        f"FROM {b.ping}\nRUN mkdir -p /data && dd if=/dev/zero of=/data/big.bin bs=1M count=20 2>/dev/null\n"
        "RUN echo 'a note that lives in the image' > /data/note.txt\nCMD [\"sleep\", \"3600\"]\n")
    b.build("cow", cow)
    image = b.image("cow")
    b.save(image)
    b.save(b.ping)
    box = b.run("cow", image, wait=False)
    for command in (["sh", "-c", "echo -n x >> /data/big.bin"], ["sh", "-c", "echo hello > /data/hello.txt"],
                    ["rm", "/data/note.txt"]):
        b.exec(box, command)
        b.api.diff(box)  # what the copy-up monitor waits for, read once
    b.exec(box, ["test", "-e", "/data/note.txt"])
    twins = [b.run(f"twin{n}", image, wait=False) for n in (1, 2)]
    b.exec(twins[0], ["sh", "-c", "echo -n x >> /data/big.bin"])
    for container in [box, *twins]:
        b.api.diff(container)
    b.rm(twins[0])
    fresh = b.run("fresh", image, wait=False)
    b.exec(fresh, ["cat", "/data/note.txt"])
    committed = b.api.commit(box, repository=b.image("cow-committed").rsplit(":", 1)[0], tag="latest",
                             conf={"Labels": b.labels})["Id"]
    b.save(committed)
    for container in [box, twins[1], fresh]:
        b.rm(container)


def bare_03(b: Bare) -> None:
    sample = b.folder("sample")
    mark_run(sample, b.learner, secrets.token_hex(6))
    write_sample_context(sample, b.app)
    b.both("sample", sample, nocache=True)
    b.both("sample", sample)
    apply_change(sample, scenario("edit"), secrets.token_hex(6))
    b.both("sample", sample)
    for key in ("touch", "chmod", "ignored", "reordered"):
        chosen = scenario(key)
        quiz = b.folder(f"quiz-{key}")
        write_exercise_context(quiz, b.app, chosen.dockerfile)
        mark_run(quiz, b.learner, secrets.token_hex(6))
        b.both(f"quiz-{key}", quiz)
        apply_change(quiz, chosen, secrets.token_hex(6))
        b.both(f"quiz-{key}", quiz)
    for kind in ("classic", "buildkit"):
        stale = b.folder(f"stale-{kind}")
        (stale / "Dockerfile").write_text(f"FROM {b.app}\n{STALE_STEP}\n")
        for nocache in (True, False, True):
            if kind == "classic":
                built = b.build(f"stale-{kind}", stale, tag="classic", nocache=nocache)
            else:
                b.buildkit(f"stale-{kind}", stale, nocache=nocache)
                built = b.image(f"stale-{kind}", "buildkit")
            b.run("stale-read", built, ["cat", "/built-at"], remove=True)
    for kind in ("classic", "buildkit"):
        folder, served = b.folder(f"addurl-{kind}"), b.folder(f"addurl-{kind}-served")
        token = secrets.token_hex(6)
        (served / "release.txt").write_text(f"release 1 ({token})\n")
        server = Served(served)
        try:
            (folder / "Dockerfile").write_text(f"FROM {b.app}\nADD {server.url}/release.txt /release.txt\n"
                                               "RUN cat /release.txt\n")
            for change in ("", "", "rewrite", "change"):
                if change == "rewrite":
                    stat = (served / "release.txt").stat()
                    os.utime(served / "release.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
                elif change == "change":
                    (served / "release.txt").write_text(f"release 2 ({token})\n")
                b.build(f"addurl-{kind}", folder, tag="classic") if kind == "classic" else b.buildkit(
                    f"addurl-{kind}", folder)
        finally:
            server.close()
    broken = b.folder("broken")
    write_sample_context(broken, b.app)
    mark_run(broken, b.learner, secrets.token_hex(6))
    (broken / "Dockerfile").write_text(f"FROM {b.app}\nCOPY . /app\nRUN make -s -C /app no-such-target\n"
                                       "CMD python /app/app.py\n")
    b.both("broken", broken)  # fails at its RUN step, on both builders


def bare_04(b: Bare) -> None:
    b.build("from", write_files(b.folder("from"), {"Dockerfile": f"FROM {b.ping}\n"}), tag="classic")
    release = b.folder("release")
    write_release(release)
    server = Served(release)
    try:
        for kind in ("classic", "buildkit"):
            for key, demo in DEMOS.items():
                folder = b.folder(f"{key}-{kind}")
                write_context(folder, demo, b.ping, server.url if demo.needs_url else "")
                if kind == "classic":
                    built = b.build(key, folder, tag="classic")
                    if key in ("copy-tar", "add-url"):
                        path = "/app/source.tar" if key == "copy-tar" else "/data/release.tar"
                        b.run("stat", built, ["stat", "-c", "%a", path], remove=True)
                else:
                    b.buildkit(key, folder)
                    built = b.image(key, "buildkit")
                b.save(built)
    finally:
        server.close()


def ping_dockerfile(b: Bare, entrypoint=None, cmd=None, stop_signal=None) -> str:
    lines = [f"FROM {b.ping}"]
    if stop_signal:
        lines.append(f"STOPSIGNAL {stop_signal}")
    for keyword, value in (("ENTRYPOINT", entrypoint), ("CMD", cmd)):
        if value is not None:
            lines.append(f"{keyword} {json.dumps(value) if isinstance(value, list) else value}")
    return "\n".join(lines) + "\n"


def bare_05(b: Bare) -> None:
    def image(name, tag="latest", **form):
        b.build(name, write_files(b.folder(f"{name}-{tag}"), {"Dockerfile": ping_dockerfile(b, **form)}), tag=tag)
        return b.image(name, tag)

    target = "127.0.0.1"  # the seed pings 8.8.8.8; the course, loopback
    cmd_only = image("ping-cmd", cmd=["ping", "-c", "3", target])
    entry_only = image("ping-entrypoint", entrypoint=["ping", "-c", "3", target])
    both = image("ping-both", entrypoint=["ping"], cmd=["-c", "3", target])
    for built in (cmd_only, entry_only, both):
        b.run("show", built, remove=True)
    seen = b.run("pid1-guess", both, [target], wait=False)
    b.exec(seen, ["cat", "/proc/1/cmdline"]), b.rm(seen)
    try:
        b.run("ping-cmd", cmd_only, [target], remove=True)  # the lesson's refusal: CMD replaced by "127.0.0.1"
    except docker.errors.APIError:
        pass
    b.run("ping-entrypoint", entry_only, [target], remove=True)
    endless = b.run("ping-both", both, [target], wait=False)
    time.sleep(3)  # the lesson reads four lines of a ping that never ends, then stops it
    b.api.stop(endless, timeout=1)
    b.rm(endless)
    for args, entry in ((None, "echo"), (["-c", "3", target], "echo"), (["ping", "-c", "1", target], "")):
        b.run("ping-both", both, args, entrypoint=entry, remove=True)
    forms = {"exec-form": {"entrypoint": ["ping"], "cmd": [target]}, "shell-lone": {"cmd": f"ping {target}"},
             "shell-two": {"cmd": f"ping {target}; echo ping ended"}}
    for name, form in forms.items():
        box = b.run(name, image(name, **form), wait=False)
        b.exec(box, ["cat", "/proc/1/cmdline"]), b.rm(box)
    stops = {"stop-exec": {"entrypoint": ["ping"], "cmd": [target], "stop_signal": "SIGINT"},
             "stop-shell": {"cmd": f"ping {target}; echo ping ended", "stop_signal": "SIGINT"},
             "stop-term": {"entrypoint": ["ping"], "cmd": [target]}}
    for name, form in stops.items():
        box = b.run(name, image(name, **form), wait=False)
        b.exec(box, ["cat", "/proc/1/cmdline"])
        b.api.stop(box, timeout=2)
        b.rm(box)
    b.run("reset", image("reset", entrypoint=["echo", "ENTRYPOINT got these arguments:"]), remove=True)
    for n in range(10):  # the explorer: one image per (ENTRYPOINT, CMD) pair, each run once
        box = b.run("explorer", image("explorer", f"d{n}", entrypoint=["echo", f"pair {n}"], cmd=[target]),
                    wait=False)
        b.api.wait(box, timeout=60), b.rm(box)


def bare_06(b: Bare) -> None:
    def measure(name, folder):
        b.save(b.build(name, folder))

    dd = "dd if=/dev/zero of=/downloads/archive.bin bs=1M count=20 2>/dev/null"
    late = write_files(b.folder("cleanup-later"), {"Dockerfile": f"FROM {b.ping}\nRUN mkdir -p /downloads && {dd}\n"
                                                   "RUN rm /downloads/archive.bin\n"})
    measure("cleanup-later", late)
    b.save(b.ping)
    same = write_files(b.folder("cleanup-same-run"), {
        "Dockerfile": f"FROM {b.ping}\nRUN mkdir -p /downloads && {dd} \\\n && rm /downloads/archive.bin\n"})
    measure("cleanup-same-run", same)
    context = write_files(b.folder("big-context"), {
        "app/run.sh": "#!/bin/sh\necho 'the app runs'\n", "app/testdata/fixtures.bin": 10 * 1000 * 1000,
        "Dockerfile": f"FROM {b.ping}\nCOPY app/ /app/\nRUN rm -rf /app/testdata\n"})
    measure("copy-then-delete", context)
    write_files(context, {".dockerignore": "app/testdata\n", "Dockerfile": f"FROM {b.ping}\nCOPY app/ /app/\n"})
    measure("dockerignore", context)
    steps = ("RUN mkdir -p /opt/toolchain && dd if=/dev/zero of=/opt/toolchain/cc.bin bs=1M count=30 2>/dev/null\n"
             "COPY src/ /src/\nRUN make -C /src\n")
    tools = write_files(b.folder("tools"), {
        "src/hello.sh": "#!/bin/sh\necho 'hello from a small image'\n",
        "src/Makefile": "/out/hello: hello.sh\n\ttest -s /opt/toolchain/cc.bin\n\tmkdir -p /out && cp hello.sh "
                        "/out/hello && chmod 755 /out/hello\n",
        "Dockerfile": f"FROM {b.app}\n" + steps + 'CMD ["/out/hello"]\n'})
    measure("tools-inside", tools)
    write_files(tools, {"Dockerfile": f"FROM {b.app} AS build\n" + steps + f"\nFROM {b.ping}\n"
                        "COPY --from=build /out/hello /usr/local/bin/hello\nCMD [\"hello\"]\n"})
    measure("multi-stage", tools)
    b.save(b.app)
    b.buildkit("multi-stage", tools)
    deps = ("RUN mkdir -p /deps && dd if=/dev/zero of=/deps/libs.bin bs=1M count=20 2>/dev/null"
            " && dd if=/dev/urandom of=/deps/install-id bs=16 count=1 2>/dev/null\n")
    for name, dockerfile in (("app-first", f"FROM {b.ping}\nCOPY app/ /app/\n" + deps),
                             ("deps-first", f"FROM {b.ping}\n" + deps + "COPY app/ /app/\n")):
        folder = write_files(b.folder(f"order-{name}"), {"app/run.sh": "#!/bin/sh\necho 'version 1'\n",
                                                          "Dockerfile": dockerfile})
        first = b.build(name, folder, tag="v1")
        write_files(folder, {"app/run.sh": "#!/bin/sh\necho 'version 2'\n"})
        b.save(first), b.save(b.build(name, folder, tag="v2"))


BARE = {"01": bare_01, "02": bare_02, "03": bare_03, "04": bare_04, "05": bare_05, "06": bare_06}


# -- timing ---------------------------------------------------------------------------------------


def time_course(number: str) -> float:
    """The code cells' execution time in a fresh kernel (kernel start and stop excluded)."""
    notebook = nbformat.read(next(NOTEBOOKS.glob(f"{number}-*.ipynb")), as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=900, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    total = 0.0
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                start = time.perf_counter()
                client.execute_cell(cell, index)
                total += time.perf_counter() - start
    subprocess.run([sys.executable, "-m", "layerlab", "cleanup", "--lesson", LESSONS[number]],
                   capture_output=True, check=True)
    return total


def time_bare(api: CountingClient, number: str, learner: str) -> tuple[float, int, int]:
    """The bare lesson's wall time, its HTTP requests and its CLI runs."""
    with tempfile.TemporaryDirectory(prefix=f"layerlab-bench-overhead-{number}-") as work:
        bare = Bare(api, number, learner, Path(work))
        before = api.requests_sent
        start = time.perf_counter()
        try:
            BARE[number](bare)
        finally:
            bare.finish()
        return time.perf_counter() - start, api.requests_sent - before, bare.cli_runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lessons", default=",".join(LESSONS))
    args = parser.parse_args()
    learner = learner_id()
    lessons = [n.strip() for n in args.lessons.split(",") if n.strip()]
    api = CountingClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), version="auto",
                         timeout=900)
    print(f"learner {learner}, engine {api.version()['Version']} at {api.base_url}; {args.runs} run(s); "
          "course = code cells in a fresh kernel (kernel start excluded), bare = docker SDK calls")
    results = {}
    try:
        for number in lessons:
            courses, bares = [], []
            recording = Recording.load(recording_path(LESSONS[number]))
            recorded, recorded_cli = len(recording.exchanges), len(recording.cli_runs)
            for run in range(1, args.runs + 1):
                courses.append(time_course(number))
                seconds, sent, cli = time_bare(api, number, learner)
                bares.append(seconds)
                print(f"{number} run {run}: course {courses[-1]:6.2f} s, bare {seconds:6.2f} s, "
                      f"ratio {courses[-1] / seconds:.2f}x  (requests: course {recorded} + {recorded_cli} CLI as "
                      f"recorded, bare {sent} + {cli} CLI)", flush=True)
            results[number] = (courses, bares)
    finally:
        for number in LESSONS:
            remove_labeled(api, {"layerlab.course": "layerlab", "layerlab.lesson": f"bench-overhead-{number}",
                                 "layerlab.learner": learner})
    ratios = {n: statistics.median(c) / statistics.median(b) for n, (c, b) in results.items()}
    over = [n for n, r in ratios.items() if r > TARGET]
    print(f"target: at most {TARGET}x on every lesson; " + (f"over it: {', '.join(over)}" if over else "all within"))
    print("course_overhead: " + ", ".join(f"{n} {r:.2f}x" for n, r in ratios.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
