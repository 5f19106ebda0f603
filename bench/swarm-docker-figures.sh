#!/usr/bin/env bash
# The docker runtime's side of the figures in docs/past-one-host.md: threshold crossed to new
# replica serving, and replica failing to its replacement serving. Needs the engine and the test
# image (scripts/build-test-image.sh); uses host ports 18950-18961; removes its containers on exit.
set -u
cd "$(dirname "$0")/.."
svc=figdock$$
node bin/symphony.js --image symphony-test-api:latest --service $svc --base-port 18950 --window 4s --base-scale-count 5 --max-containers 6 --min-containers 2 --fault-interval 300ms --port 18960 --admin-port 18961 --threads 1 --cleanup-on-exit > /tmp/figdock.log 2>&1 &
pid=$!
for i in $(seq 100); do curl -sf 127.0.0.1:18961/readyz >/dev/null && break; sleep 0.2; done
sleep 2
# threshold: 14 requests -> desired 3 (from 2)
cp=""; for i in $(seq 14); do curl -s -o /dev/null 127.0.0.1:18960/api/v1/hello & cp="$cp $!"; done; wait $cp
sleep 4
# failure -> replacement
old=$(curl -s 127.0.0.1:18961/status | node -pe "JSON.parse(require('fs').readFileSync(0)).backends.find(b=>b.slot===1).id")
t0=$(date +%s%3N); curl -s -XPOST -o /dev/null 127.0.0.1:18951/admin/health/fail
for i in $(seq 200); do n=$(curl -s 127.0.0.1:18961/status | node -pe "const b=JSON.parse(require('fs').readFileSync(0)).backends.find(b=>b.slot===1); (b.state==='healthy'&&b.id!=='$old')?1:0"); [ "$n" = 1 ] && break; sleep 0.05; done
t1=$(date +%s%3N); echo "docker: failing -> replacement serving: $((t1-t0)) ms"
kill -TERM $pid; wait $pid
node -e '
const lines=require("fs").readFileSync("/tmp/figdock.log","utf8").split("\n").filter(l=>l.startsWith("{")).map(JSON.parse)
const up=lines.find(l=>l.event==="scale"&&l.direction==="up"&&l.current===2)
if(!up){console.log("no scale-up");process.exit()}
const ready=lines.filter(l=>l.msg==="replica healthy; in rotation"&&up.ports.includes(l.port)&&Date.parse(l.time)>=Date.parse(up.time))
console.log("docker: threshold crossed -> new replica serving:", Math.max(...ready.map(l=>Date.parse(l.time)))-Date.parse(up.time), "ms", up.ports)'
