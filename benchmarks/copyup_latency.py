"""How fast and how cheaply does the copy-up monitor see a write inside a container?

    .venv/bin/python benchmarks/copyup_latency.py [--writes 120] [--intervals 0.15] [--full-every 1.0]
                                                  [--paces typing,burst] [--caps 3,none]

For each pace and poll interval: a container from the course's busybox base runs a loop that
writes one new file at that pace and puts the time of the write in it (read from /proc/uptime,
the host's boot clock: containers share it; 10 ms resolution). The watcher (the same
`CopyUpWatcher` the widget and `layerlab watch` use) runs in this process; latency is the
time from the write to the watcher's state change (its update callback) for that file.

CPU is read from /proc/<pid>/stat: this process (what the notebook kernel pays) and the
engine's dockerd and containerd. The same write loop also runs once with no watcher: the
engine's CPU then is the baseline, and what the watcher costs is the difference. Idle cost
(a container that writes nothing, watched for `--idle` seconds) is measured too. The engine
may be shared with other work: run it on a quiet machine and read the baseline.

Two paces: `typing`, one write every 1.0-1.9 s (a learner typing commands into
`docker exec`, what the lesson invites), and `burst`, one every 200-380 ms (a script writing
steadily: every write makes the watcher ask for a `docker diff`, the expensive call).

Each interval runs with each cap on `/changes` calls a second (`--caps`: the watcher's
MAX_DIFFS_PER_SECOND, and `none` for no cap), side by side in one run. The last line is one
machine-readable line for the watcher as shipped (its default interval and cap):
`copyup_latency: typing p95 <ms> ms cpu <pct>%, burst p95 <ms> ms cpu <pct>%`, cpu being this
process plus the engine's estimated cost of the watcher's requests, in % of one core.

Figures only, no assertions. Everything it makes carries the course labels under the lesson
id `bench-copyup` and is removed at the end (that lesson's objects only).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "widgets"))

from layerlab.core.model import ChangeKind  # noqa: E402
from layerlab.engine import connect  # noqa: E402
from layerlab.core.copyup import DEFAULT_INTERVAL  # noqa: E402
from layerlab.engine.watch import MAX_DIFFS_PER_SECOND, CopyUpWatcher  # noqa: E402
from layerlab.course.lesson import Lesson  # noqa: E402

LESSON = "bench-copyup"
TICKS = os.sysconf("SC_CLK_TCK")
#: pace -> (shortest gap, step) in microseconds: gaps of first + k * step, k = 0..9.
PACES = {"typing": (1_000_000, 100_000), "burst": (200_000, 20_000)}
LOOP = (
    "while [ ! -e /go ]; do usleep 20000; done; mkdir -p /w; i=0; "
    "while [ $i -lt {n} ]; do usleep $(({first} + (i * 37 % 10) * {step})); "
    "read up idle < /proc/uptime; echo $up > /w/f$i; i=$((i+1)); done; sleep 600"
)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def engine_pids(host: str) -> dict[int, str]:
    """dockerd serving `host`, its containerd child, and a containerd it was pointed at."""
    socket = host[len("unix://"):] if host.startswith("unix://") else host
    found: dict[int, str] = {}
    processes = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name = Path(f"/proc/{entry}/comm").read_text().strip()
            args = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        processes[int(entry)] = (name, args, parent)
    for pid, (name, args, _) in processes.items():
        if name != "dockerd":
            continue
        default = socket == "/var/run/docker.sock" and " -H " not in args and "--host" not in args
        if socket in args or default:
            found[pid] = "dockerd"
            for child, (child_name, _, parent) in processes.items():
                if parent == pid and child_name == "containerd":
                    found[child] = "containerd"
            if "--containerd " in args:
                address = args.split("--containerd ", 1)[1].split()[0]
                for other, (other_name, other_args, _) in processes.items():
                    if other_name == "containerd" and address.rsplit("/", 1)[0] in other_args:
                        found[other] = "containerd"
                if not any(v == "containerd" for v in found.values()):
                    for other, (other_name, other_args, _) in processes.items():
                        if other_name == "containerd" and "/run/layerlab/containerd.toml" in other_args:
                            found[other] = "containerd"
    return found


class Meter:
    def __init__(self, pids):
        self.pids = pids

    def __enter__(self):
        self.started = time.monotonic()
        self.me = sum(os.times()[:2])
        self.engine = {pid: cpu_seconds(pid) for pid in self.pids}
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.started
        self.me = sum(os.times()[:2]) - self.me
        self.engine = sum(cpu_seconds(pid) - before for pid, before in self.engine.items())

    def share(self, seconds: float) -> float:
        return 100.0 * seconds / self.wall


def uptime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run_writes(lesson, image, writes, pace, watcher_args=None):
    """One container, `writes` timed writes; returns (latencies or None, meter)."""
    seen: dict[str, float] = {}

    def on_update(state, events):
        now = uptime()
        for event in events:
            if event.kind is ChangeKind.ADDED and event.path.startswith("/w/f"):
                seen.setdefault(event.path, now)

    pids = engine_pids(lesson.engine.facts.host)
    first, step = PACES[pace]
    with lesson.container("writer", image, ["sh", "-c", LOOP.format(n=writes, first=first, step=step)]) as box:
        watcher = None
        if watcher_args is not None:
            watcher = CopyUpWatcher(lesson.engine, box, on_update=on_update, **watcher_args).start()
            deadline = time.monotonic() + 60
            while watcher.state.diffs < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        start_counts = (watcher.state.polls, watcher.state.diffs, watcher.stats) if watcher else None
        with Meter(pids) as meter:
            box.exec_run(["touch", "/go"])
            expected = [f"/w/f{i}" for i in range(writes)]
            # No polling of our own here (it would cost CPU): the loop's length is known.
            duration = sum(first + (i * 37 % 10) * step for i in range(writes)) / 1e6
            if watcher is None:
                time.sleep(duration + 1.0)
            else:
                deadline = time.monotonic() + duration + 30
                while time.monotonic() < deadline and not all(p in seen for p in expected):
                    time.sleep(0.25)
        counts = None
        if watcher is not None:
            watcher.stop()
            counts = (watcher.state.polls - start_counts[0], watcher.state.diffs - start_counts[1],
                      watcher.stats - start_counts[2])
            counts = counts + (calibrate(lesson.engine, box.id, pids),)
        stamps = box.exec_run(["sh", "-c", "for f in /w/f*; do echo $f $(cat $f); done"]).output.decode().split("\n")
    written = {line.split()[0]: float(line.split()[1]) for line in stamps if line.strip()}
    if watcher is None:
        return None, meter, 0, None
    latencies = [seen[p] - written[p] for p in written if p in seen]
    return latencies, meter, len(written) - len(latencies), counts


def calibrate(engine, container_id, pids, calls=40):
    """Engine CPU seconds per request of each kind the watcher makes, measured in a burst.

    The engine may serve other work too; a burst of one kind of request keeps that noise
    small next to what is measured, where a long watch would drown in it.
    """
    kinds = {  # the three calls the watcher makes, through the same door
        "probe": lambda: engine.container_info(container_id, size=True),
        "diff": lambda: engine.container_changes(container_id),
        "stat": lambda: engine.stat_path(container_id, "/w/f0"),
    }
    costs = {}
    for name, call in kinds.items():
        best = None
        for _ in range(3):  # the least disturbed of three bursts
            before = sum(cpu_seconds(pid) for pid in pids)
            for _ in range(calls):
                call()
            cost = (sum(cpu_seconds(pid) for pid in pids) - before) / calls
            best = cost if best is None else min(best, cost)
        costs[name] = best
    return costs


def run_idle(lesson, image, seconds, watcher_args):
    pids = engine_pids(lesson.engine.facts.host)
    with lesson.container("idle", image, ["sleep", "600"]) as box:
        watcher = CopyUpWatcher(lesson.engine, box, **watcher_args).start()
        time.sleep(1.0)
        start = (watcher.state.polls, watcher.state.diffs, watcher.stats)
        with Meter(pids) as meter:
            time.sleep(seconds)
        watcher.stop()
        meter.counts = (watcher.state.polls - start[0], watcher.state.diffs - start[1], watcher.stats - start[2])
        return meter


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=120)
    parser.add_argument("--intervals", default=str(DEFAULT_INTERVAL), help="poll intervals to try, seconds")
    parser.add_argument("--caps", default=f"{MAX_DIFFS_PER_SECOND},none",
                        help="caps on /changes calls a second to try ('none': no cap)")
    parser.add_argument("--full-every", type=float, default=1.0)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle watching measured")
    parser.add_argument("--paces", default="typing,burst", help=f"write paces to try: {', '.join(PACES)}")
    args = parser.parse_args(argv)
    paces = [p.strip() for p in args.paces.split(",") if p.strip()]
    unknown = [p for p in paces if p not in PACES]
    if unknown:
        parser.error(f"unknown pace {unknown[0]!r}; choose from {', '.join(PACES)}")
    intervals = [float(x) for x in args.intervals.split(",")]
    caps = [None if c.strip().lower() == "none" else int(c) for c in args.caps.split(",") if c.strip()]
    lesson = Lesson(LESSON, engine=connect(), quiet=True)
    engine = lesson.engine
    print(f"engine: Docker {engine.facts.engine_version} ({engine.facts.flavour}), {os.cpu_count()} cores, "
          f"engine processes {sorted(engine_pids(engine.facts.host).values())}")
    base = lesson.base("ping", quiet=True)
    try:
        idles = {}
        for interval in intervals:
            idles[interval] = run_idle(lesson, base.reference, args.idle,
                                       {"interval": interval, "full_every": args.full_every})
        rows = []
        for pace in paces:
            first, step = PACES[pace]
            print(f"pace {pace!r}: one write every {first / 1e6:.2f}-{(first + 9 * step) / 1e6:.2f} s")
            _, baseline, _, _ = run_writes(lesson, base.reference, args.writes, pace)
            base_engine = baseline.share(baseline.engine)
            print(f"  baseline, {args.writes} writes and no watcher: engine {base_engine:.1f}% of one core "
                  f"over {baseline.wall:.0f} s")
            for interval, cap in [(i, c) for i in intervals for c in caps]:
                watcher_args = {"interval": interval, "full_every": args.full_every, "max_diffs": cap}
                latencies, meter, missed, counts = run_writes(lesson, base.reference, args.writes, pace, watcher_args)
                idle = idles[interval]
                ms = [1000 * x for x in latencies]
                polls, diffs, stats, costs = counts
                estimate = 100.0 * (polls * costs["probe"] + diffs * costs["diff"] + stats * costs["stat"]) / meter.wall
                print(f"  watcher requests while writing: {polls / meter.wall:.1f} probes/s, {diffs / meter.wall:.1f} diffs/s, "
                      f"{stats / meter.wall:.1f} stats/s; engine CPU per request: probe {1000 * costs['probe']:.1f} ms, "
                      f"diff {1000 * costs['diff']:.1f} ms, stat {1000 * costs['stat']:.1f} ms "
                      f"-> engine cost of watching about {estimate:.1f}% of one core")
                idle_estimate = 100.0 * (idle.counts[0] * costs["probe"] + idle.counts[1] * costs["diff"]
                                         + idle.counts[2] * costs["stat"]) / idle.wall
                row = {
                    "pace": pace,
                    "interval": interval,
                    "cap": cap,
                    "n": len(ms),
                    "missed": missed,
                    "p50": statistics.median(ms),
                    "p95": percentile(ms, 0.95),
                    "max": max(ms),
                    "kernel": meter.share(meter.me),
                    "engine": meter.share(meter.engine),
                    "engine_extra": meter.share(meter.engine) - base_engine,
                    "idle_kernel": idle.share(idle.me),
                    "idle_engine": idle.share(idle.engine),
                    "estimate": estimate,
                    "idle_estimate": idle_estimate,
                }
                rows.append(row)
                print(
                    f"  interval {interval:.2f} s, {cap or 'no'} cap, full diff every {args.full_every:.1f} s: {row['n']} writes seen"
                    f" ({missed} missed): latency p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms, max {row['max']:.0f} ms; "
                    f"CPU while writing: kernel {row['kernel']:.1f}%, engine {row['engine']:.1f}% "
                    f"({row['engine_extra']:+.1f}% over the baseline); idle watching: kernel {row['idle_kernel']:.1f}%, "
                    f"engine {row['idle_engine']:.1f}% (estimated {idle_estimate:.1f}%) (% of one core)",
                    flush=True,
                )
        print()
        print("pace    interval  cap   p50 ms  p95 ms  kernel%  engine% (extra, est.)  idle kernel%  idle engine% (est.)  "
              "target: p95<=250 ms, <=5% (writing / idle)")
        for row in rows:
            cost = row["kernel"] + row["estimate"]
            idle_cost = row["idle_kernel"] + row["idle_estimate"]
            ok = row["p95"] <= 250 and cost <= 5.0
            idle_ok = row["p95"] <= 250 and idle_cost <= 5.0
            print(f"{row['pace']:<7} {row['interval']:>8.2f}  {str(row['cap'] or '-'):<4}  {row['p50']:>6.0f}  {row['p95']:>6.0f}  {row['kernel']:>7.1f}  "
                  f"{row['engine']:>7.1f} ({row['engine_extra']:+.1f}, {row['estimate']:.1f})  {row['idle_kernel']:>12.1f}  "
                  f"{row['idle_engine']:>12.1f} ({row['idle_estimate']:.1f})  {'met' if ok else 'missed'} / {'met' if idle_ok else 'missed'} "
                  f"(kernel + estimated engine: {cost:.1f}% writing, {idle_cost:.1f}% idle)")
        shipped = {row["pace"]: row for row in rows
                   if row["interval"] == DEFAULT_INTERVAL and row["cap"] == MAX_DIFFS_PER_SECOND}
        if shipped:
            print("copyup_latency: " + ", ".join(
                f"{pace} p95 {row['p95']:.0f} ms cpu {row['kernel'] + row['estimate']:.1f}%" for pace, row in shipped.items()))
    finally:
        lesson.cleanup(quiet=True)
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
