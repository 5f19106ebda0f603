#!/usr/bin/env bash
# Node loss on two Swarm nodes with Swarm's default dispatcher heartbeat (issue 23, point 5):
# runs test/serial/swarm-two-nodes.serial.ts RUNS times (default 5), each under
# flock /tmp/swarm.lock, and prints a results table (time from the second engine's stop to full
# capacity, replicas moved, failed GETs of the 4 loops, replacements created again) with the
# median, as in bench/results/node-loss.md. `bench/node-loss.sh LOG…` only summarises logs of
# earlier runs. Needs `npm run build`, root, the engine; about 1.5 min per run.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=("$@")
if [ ${#logs[@]} -eq 0 ]; then
  for i in $(seq "${RUNS:-5}"); do
    log=/tmp/node-loss-$$-$i.log
    flock /tmp/swarm.lock npx tap --timeout 600 --reporter tap dist/test/serial/swarm-two-nodes.serial.js >"$log" 2>&1 || true
    logs+=("$log")
  done
fi
node -e '
const fs = require("fs")
const rows = []
for (const f of process.argv.slice(1)) {
  const text = fs.readFileSync(f, "utf8")
  const fig = /figure: node loss to full capacity again: (\d+) ms \((\d+) replicas moved/.exec(text)
  const sent = /0 failed idempotent requests during the node loss \((\d+) sent: (\{[^)]*\})\)/.exec(text) ?? /failed idempotent requests during the node loss \((\d+) sent: (\{[^)]*\})\)/.exec(text)
  const moved = /landing on the suspected node: (\d+)/.exec(text)
  const timeline = /timeline after the engine stop: (.*)/.exec(text)
  const ok = !/^not ok/m.test(text)
  const setup = /set-up took (\d+) ms/.exec(text)
  if (fig === null) { console.log(`${f}: no figure (the run failed before the node loss)`); continue }
  const results = sent ? JSON.parse(sent[2]) : {}
  const failed = Object.entries(results).filter(([k]) => k !== "200").reduce((a, [, v]) => a + v, 0)
  rows.push({ ms: Number(fig[1]), lost: Number(fig[2]), sent: sent ? Number(sent[1]) : NaN, failed, moved: moved ? Number(moved[1]) : NaN, ok, setup: setup ? Number(setup[1]) : NaN, timeline: timeline ? timeline[1].split(", ").filter((e) => !e.includes("+-")).join(", ") : "" })
}
console.log("| run | two-node set-up | replicas on the lost node | full capacity again | GETs sent | failed | replacements created again | test |")
console.log("|---|---|---|---|---|---|---|---|")
rows.forEach((r, i) => console.log(`| ${i + 1} | ${(r.setup / 1000).toFixed(1)} s | ${r.lost} | ${(r.ms / 1000).toFixed(1)} s | ${r.sent} | ${r.failed} | ${r.moved} | ${r.ok ? "pass" : "fail"} |`))
const ms = rows.map((r) => r.ms).sort((a, b) => a - b)
const median = ms.length === 0 ? NaN : ms.length % 2 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2
console.log(`\nmedian ${(median / 1000).toFixed(1)} s over ${ms.length} runs (range ${(ms[0] / 1000).toFixed(1)}-${(ms[ms.length - 1] / 1000).toFixed(1)} s); failed GETs ${rows.map((r) => r.failed).join(", ")}`)
// Where the seconds go, per run (ms after the engine stop): the first sign (a failed or timed-out
// probe), the suspicion, the last replacement task to reach starting and running, full capacity.
const at = (tl, re) => tl.split(", ").filter((e) => re.test(e)).map((e) => Number(/\+(-?\d+) ms$/.exec(e)?.[1])).filter((n) => !Number.isNaN(n))
console.log("\n| run | first sign | node suspected | last replacement starting | its task running (slowest start: starting to running) | full capacity |")
console.log("|---|---|---|---|---|---|")
rows.forEach((r, i) => {
  const sign = Math.min(...at(r.timeline, /^(replica-failed|health-timeout-tolerated)/))
  const sus = at(r.timeline, /^node-suspected/)[0]
  const starting = new Map(), slow = []
  for (const e of r.timeline.split(", ")) {
    const m = /^task-state\((\w+):(\w+)\) \+(\d+) ms$/.exec(e)
    if (m === null) continue
    if (m[2] === "starting") starting.set(m[1], Number(m[3]))
    if (m[2] === "running" && starting.has(m[1])) slow.push(Number(m[3]) - starting.get(m[1]))
  }
  const lastStarting = Math.max(...at(r.timeline, /^task-state\(\w+:starting\)/))
  const lastRunning = Math.max(...at(r.timeline, /^task-state\(\w+:running\)/))
  const s = (ms) => Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "—"
  console.log(`| ${i + 1} | ${s(sign)} | ${s(sus)} | ${s(lastStarting)} | ${s(lastRunning)} (${slow.length ? s(Math.max(...slow)) : "—"}) | ${s(r.ms)} |`)
})
console.log("\ntimelines (ms after the engine stop):")
rows.forEach((r, i) => console.log(`${i + 1}. ${r.timeline}`))
' "${logs[@]}"
