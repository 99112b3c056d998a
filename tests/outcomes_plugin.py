"""A pytest plugin that writes every test's outcome to a JSON-lines file, for tiers that must
prove *which* tests ran (the bare tier: exactly the engine- and browser-marked tests skip).

Load it with `PYTHONPATH=tests PYTEST_ADDOPTS="-p outcomes_plugin"`. It does nothing unless
LAYERLAB_OUTCOMES=/path/file.jsonl is set; then each pytest session appends:

    {"kind": "session", "session": ID, "args": [...], "source": ..., "docker_host": ..., "ci": ...}
    {"kind": "test", "session": ID, "nodeid": ..., "outcome": "passed|failed|skipped|xfailed|xpassed",
     "markers": [...], "phase": ..., "message": first lines of the failure or the skip reason,
     "duration": seconds}
    {"kind": "collect-error", "session": ID, "nodeid": ..., "message": ...}
    {"kind": "finish", "session": ID, "exitstatus": N, "tests": count}
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time

import pytest

OUTCOMES_ENV = "LAYERLAB_OUTCOMES"
MESSAGE_LINES = 8
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # nbval colours its reports


def _first_lines(report) -> str:
    text = ""
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        text = str(report.longrepr[2])  # (path, line, "Skipped: reason")
    elif report.longrepr is not None:
        text = getattr(report, "longreprtext", "") or str(report.longrepr)
    lines = [line for line in ANSI.sub("", text).splitlines() if line.strip()]
    if report.failed and len(lines) > MESSAGE_LINES:
        # The end of a traceback says what went wrong (the "E   ..." lines); keep it.
        errors = [line for line in lines if line.startswith("E ")]
        lines = (errors or lines[-MESSAGE_LINES:])[:MESSAGE_LINES]
    return "\n".join(lines[:MESSAGE_LINES])


class OutcomeWriter:
    def __init__(self, config, path: str) -> None:
        self.config = config
        self.path = path
        self.session = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.markers: dict[str, list[str]] = {}
        self.pending: dict[str, dict] = {}
        self.count = 0

    def write(self, record: dict) -> None:
        record = {"session": self.session, **record}
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()

    def pytest_sessionstart(self, session) -> None:
        self.write({
            "kind": "session",
            "args": [str(arg) for arg in self.config.invocation_params.args],
            "source": os.environ.get("LAYERLAB_SOURCE", "auto"),
            "docker_host": os.environ.get("DOCKER_HOST", ""),
            "ci": os.environ.get("CI", ""),
            "started": time.time(),
        })

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items) -> None:
        for item in items:
            self.markers[item.nodeid] = sorted({mark.name for mark in item.iter_markers()})

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.write({"kind": "collect-error", "nodeid": report.nodeid, "message": _first_lines(report)})

    def pytest_runtest_logreport(self, report) -> None:
        state = self.pending.setdefault(report.nodeid, {"outcome": None, "phase": None, "message": "", "duration": 0.0})
        state["duration"] += getattr(report, "duration", 0.0) or 0.0
        wasxfail = hasattr(report, "wasxfail")
        if state["outcome"] in (None, "passed"):
            if report.failed:
                outcome = "xpassed" if wasxfail else "failed"  # a strict xpass fails
                state.update(outcome=outcome, phase=report.when, message=_first_lines(report))
            elif report.skipped:
                state.update(outcome="xfailed" if wasxfail else "skipped", phase=report.when,
                             message=str(report.wasxfail) if wasxfail else _first_lines(report))
            elif report.when == "call":
                state.update(outcome="xpassed" if wasxfail else "passed", phase="call")
        elif state["outcome"] in ("skipped", "xfailed") and report.failed:
            state.update(outcome="failed", phase=report.when, message=_first_lines(report))
        if report.when == "teardown":
            self.pending.pop(report.nodeid)
            self.count += 1
            self.write({
                "kind": "test",
                "nodeid": report.nodeid,
                "outcome": state["outcome"] or "failed",
                "phase": state["phase"],
                "message": state["message"],
                "duration": round(state["duration"], 3),
                "markers": self.markers.get(report.nodeid, []),
            })

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        for nodeid, state in self.pending.items():  # interrupted mid-test
            self.write({"kind": "test", "nodeid": nodeid, "outcome": "failed", "phase": state["phase"] or "interrupted",
                        "message": state["message"] or "the session ended before this test's teardown",
                        "duration": round(state["duration"], 3), "markers": self.markers.get(nodeid, [])})
        self.write({"kind": "finish", "exitstatus": int(exitstatus), "tests": self.count})


def pytest_configure(config) -> None:
    path = os.environ.get(OUTCOMES_ENV, "").strip()
    if path and not config.pluginmanager.has_plugin("layerlab-outcome-writer"):
        config.pluginmanager.register(OutcomeWriter(config, path), "layerlab-outcome-writer")
