#!/usr/bin/env python3
"""Check the bare tier's outcomes (written by tests/outcomes_plugin.py during `make test`).

    python3 scripts/bare_check.py OUTCOMES.jsonl [ROOT]

Passes only when, on a machine with no engine and no browser:
  - every pytest session ran to its end, and nothing failed to collect;
  - exactly the tests marked `engine` or `browser` were skipped, and every other test passed;
  - every test file under tests/ was collected (nothing was silently left out);
  - every code cell of every notebooks/*.ipynb and notebooks/ko/*.ipynb passed under nbval in a session whose source
    was replay (LAYERLAB_SOURCE=replay), and in every other session that ran notebooks, with
    no engine to answer (the README's "no engine: from recordings").
Standard library only: it runs with the bare machine's /usr/bin/python3.
Prints a summary and, for each problem, the test and the first lines of its message.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

SKIPPING_MARKERS = {"engine", "browser"}
#: Not collected by `make test` (tests/conftest.py leaves it out): run by `make test-classroom`.
CLASSROOM_TESTS = "tests/classroom/"
ALLOWED_PASS = {"passed", "xfailed"}


def load(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise SystemExit(f"bare_check: {path}:{number} is not JSON ({error})")
    return records


def code_cells(notebook: Path) -> int:
    data = json.loads(notebook.read_text(encoding="utf-8"))
    return sum(1 for cell in data.get("cells", []) if cell.get("cell_type") == "code")


def indent(text: str) -> str:
    return "\n".join("        " + line for line in (text or "(no message)").splitlines())


def check(records: list[dict], root: Path) -> list[str]:
    problems: list[str] = []
    sessions = {r["session"]: r for r in records if r.get("kind") == "session"}
    finished = {r["session"]: r for r in records if r.get("kind") == "finish"}
    tests = [r for r in records if r.get("kind") == "test"]
    if not sessions:
        return ["no pytest session wrote outcomes (was LAYERLAB_OUTCOMES set and the plugin loaded?)"]

    for sid, session in sessions.items():
        if sid not in finished:
            problems.append(f"session {sid} ({' '.join(session['args'])}) never finished: killed or timed out")
        if session.get("ci"):
            problems.append(f"session {sid} ran with CI={session['ci']}: the bare tier proves the CI-unset path")

    for error in (r for r in records if r.get("kind") == "collect-error"):
        problems.append(f"collection error in {error['nodeid']}:\n{indent(error['message'])}")

    counts = Counter()
    for test in tests:
        markers = set(test.get("markers", []))
        outcome = test["outcome"]
        counts[(bool(markers & SKIPPING_MARKERS), outcome)] += 1
        where = f"{test['nodeid']} [{', '.join(sorted(markers)) or 'no marker'}]"
        if markers & SKIPPING_MARKERS:
            if outcome != "skipped":
                problems.append(f"{where}: {outcome}, but with no engine and no browser it must skip"
                                + (f" ({test['phase']}):\n{indent(test['message'])}" if test.get("message") else ""))
        elif outcome not in ALLOWED_PASS:
            problems.append(f"{where}: {outcome} in {test.get('phase')}:\n{indent(test['message'])}")

    # Nothing silently left out: every test file was collected in some session.
    seen_files = {t["nodeid"].split("::", 1)[0] for t in tests}
    for path in sorted(root.glob("tests/**/test_*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(CLASSROOM_TESTS):
            continue  # a whole class set up as root: `make test-classroom`, a CI tier of its own
        if relative not in seen_files:
            problems.append(f"{relative}: no test from it ran or was skipped (not collected?)")
    if not any(t for t in tests if set(t.get("markers", [])) & SKIPPING_MARKERS):
        problems.append("no engine- or browser-marked test was collected: the skip check proved nothing")

    # Replay fully exercised: every code cell of every notebook passed in a replay session.
    by_session: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for test in tests:
        path, _, name = test["nodeid"].partition("::")
        if path.endswith(".ipynb") and name.startswith("Cell ") and test["outcome"] == "passed":
            by_session[test["session"]][path].add(int(name.split()[1]))
    notebooks = sorted(root.glob("notebooks/*.ipynb")) + sorted(root.glob("notebooks/ko/*.ipynb"))  # both editions
    if not notebooks:
        problems.append("no notebooks/*.ipynb found under the checked root")
    replay_sessions = [sid for sid, s in sessions.items() if s.get("source") == "replay"]
    if not replay_sessions:
        problems.append("no session ran with LAYERLAB_SOURCE=replay")
    notebook_sessions = [sid for sid in sessions
                         if any(t["session"] == sid and t["nodeid"].split("::")[0].endswith(".ipynb") for t in tests)]
    for sid in notebook_sessions:
        if sessions[sid].get("source") == "live":
            problems.append(f"session {sid} forced LAYERLAB_SOURCE=live: on a bare machine it cannot pass")
    for notebook in notebooks:
        relative = notebook.relative_to(root).as_posix()
        wanted = code_cells(notebook)
        for sid in sorted(set(replay_sessions) | set(notebook_sessions)):
            passed = len(by_session[sid][relative])
            if passed != wanted:
                label = "replay" if sid in replay_sessions else f"source={sessions[sid].get('source')}"
                problems.append(f"{relative}: {passed} of {wanted} code cells passed under nbval ({label}, session {sid})")

    print("bare_check: %d sessions, %d test outcomes" % (len(sessions), len(tests)))
    for (marked, outcome), number in sorted(counts.items()):
        print(f"    {'engine/browser' if marked else 'other'} tests {outcome}: {number}")
    print(f"    notebooks checked in replay: {len(notebooks)} "
          f"({sum(code_cells(n) for n in notebooks)} code cells, sessions {len(notebook_sessions)})")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    root = Path(argv[2] if len(argv) == 3 else ".").resolve()
    problems = check(load(Path(argv[1])), root)
    if problems:
        print(f"bare_check: FAILED, {len(problems)} problem(s):")
        for problem in problems:
            print("  - " + problem)
        return 1
    print("bare_check: OK: only engine/browser tests skipped, everything else passed, every notebook replayed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
