"""The instructor page: one HTML document whose script reads `api/learners` every few seconds
and redraws the table in place (no reload). Text goes in with textContent, never as HTML."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>layerlab: the room</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4em .6em; text-align: left; vertical-align: top; }
.up { color: #17672e; font-weight: 600; } .down { color: #a12020; font-weight: 600; }
.muted { color: #777; } .pass { color: #17672e; } .fail { color: #a12020; }
button { margin: .1em .2em .1em 0; font-size: .85em; }
#status { color: #777; font-size: .9em; }
</style></head>
<body data-xsrf="{{xsrf}}">
<h1>The room</h1>
<p>Logged in as <b>{{admin}}</b> (hub admin). <span id="status">loading...</span></p>
<table id="room"><thead><tr>
<th>Learner</th><th>Server</th><th>Engine</th><th>Lessons run</th><th>Exercises</th>
<th>Predictions</th><th>Engine disk use</th><th>Last activity</th><th>Reset a lesson</th>
</tr></thead><tbody id="learners"><tr><td colspan="9" class="muted">loading...</td></tr></tbody></table>
<script>
const EVERY_MS = 3000;
const xsrf = document.body.dataset.xsrf;
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function size(bytes) {
  if (bytes === null || bytes === undefined) return null;
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return value.toFixed(unit ? 1 : 0) + " " + units[unit];
}
function engineText(l) {
  if (!l.heartbeat) return ["no heartbeat yet", "muted"];
  const e = l.engine;
  let text = e.up ? "up" : "down";
  if (e.version) text += " \\u00b7 Docker " + e.version;
  if (e.rootless !== null) text += e.rootless ? " \\u00b7 rootless" : " \\u00b7 rootful";
  if (l.heartbeat.error) text += " (" + l.heartbeat.error + ")";
  text += " \u00b7 heartbeat " + Math.round(l.heartbeat.age_seconds) + " s ago" + (l.heartbeat.stale ? ", stale" : "");
  return [text, e.up ? "up" : "down"];
}
function exercisesCell(row, l) {
  const td = cell(row, l.exercises.length ? "" : "none yet", l.exercises.length ? "" : "muted");
  for (const e of l.exercises) {
    const div = document.createElement("div");
    div.className = e.passed ? "pass" : "fail";
    div.textContent = (e.passed ? "passed " : "failed ") + e.exercise + " (" + e.builder + ", " + e.right + "/" + e.total + ")";
    td.appendChild(div);
  }
}
function resetCell(row, l) {
  const td = cell(row, l.lessons.length ? "" : "nothing to reset", l.lessons.length ? "" : "muted");
  for (const lesson of l.lessons) {
    const button = document.createElement("button");
    const last = l.resets.find(r => r.lesson === lesson);
    button.textContent = "reset " + lesson + (last ? (last.state === "pending" ? " (pending)" : " (done " + last.done + ")") : "");
    button.dataset.learner = l.learner; button.dataset.lesson = lesson;
    button.disabled = !!(last && last.state === "pending");
    button.onclick = () => reset(l.learner, lesson);
    td.appendChild(button);
  }
}
function draw(learners) {
  const body = document.getElementById("learners");
  body.replaceChildren();
  if (!learners.length) {
    const row = body.insertRow(); cell(row, "no learners on this hub yet", "muted").colSpan = 9; return;
  }
  for (const l of learners) {
    const row = body.insertRow();
    row.dataset.learner = l.learner;
    cell(row, l.learner);
    cell(row, l.server, l.server);
    const [engine, cls] = engineText(l); cell(row, engine, cls);
    cell(row, l.lessons.length ? l.lessons.join(", ") : "none yet", l.lessons.length ? "" : "muted");
    exercisesCell(row, l);
    const p = l.predictions;
    cell(row, p.right + p.wrong + p.shown ? p.right + " right, " + p.wrong + " wrong, " + p.shown + " shown" : "none yet");
    const disk = size(l.disk_bytes);
    cell(row, disk || (l.heartbeat ? "not measured" : "no heartbeat yet"), disk ? "" : "muted");
    cell(row, l.last_activity || "no progress yet", l.last_activity ? "" : "muted");
    resetCell(row, l);
  }
}
async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("api/learners", {credentials: "same-origin", cache: "no-store",
                                                headers: {"X-XSRFToken": xsrf}});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    draw(await response.json());
    status.textContent = "updated " + new Date().toLocaleTimeString() + ", every " + EVERY_MS / 1000 + " s";
  } catch (error) {
    status.textContent = "could not refresh: " + error.message;
  }
}
async function reset(learner, lesson) {
  const response = await fetch("api/resets", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-XSRFToken": xsrf},
    body: JSON.stringify({learner: learner, lesson: lesson}),
  });
  document.getElementById("status").textContent = response.ok
    ? "reset of " + lesson + " for " + learner + " asked; it runs at their server's next heartbeat"
    : "reset refused: " + response.status;
  refresh();
}
refresh();
setInterval(refresh, EVERY_MS);
</script></body></html>
"""
