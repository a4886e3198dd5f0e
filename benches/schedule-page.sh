#!/usr/bin/env bash
# Times GET /schedules/{id}?weeks=4 for a schedule of three layers over 50 people with 20
# overrides, on a fresh SQLite file, with the release binary. Prints p50/p99 in ms.
set -euo pipefail
BIN=${BIN:-target/release/lookout}
DIR=$(mktemp -d); export DATABASE_URL="sqlite://$DIR/l.db"; PORT=18090
echo "correct horse battery staple" | $BIN user add --email admin@example.com --name Admin --role admin >/dev/null
TOKEN=$($BIN token add --email admin@example.com --label bench | grep -o 'lk_[A-Za-z0-9_-]*')
$BIN serve --bind 127.0.0.1:$PORT >/dev/null 2>&1 & PID=$!; trap 'kill $PID; rm -rf $DIR' EXIT
until curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz; do sleep 0.05; done
API=http://127.0.0.1:$PORT/api/v1; H="Authorization: Bearer $TOKEN"
people=()
for i in $(seq 1 50); do
  curl -sf -H "$H" -H 'Content-Type: application/json' -d "{\"email\":\"p$i@example.com\",\"name\":\"Person $i\",\"role\":\"responder\",\"password\":\"correct horse battery staple\"}" $API/users >/dev/null
  people+=("\"p$i@example.com\"")
done
all=$(IFS=,; echo "${people[*]}"); ten=$(IFS=,; echo "${people[*]:0:10}"); ten2=$(IFS=,; echo "${people[*]:10:10}")
ID=$(curl -sf -H "$H" -H 'Content-Type: application/json' -d "{\"name\":\"Bench\",\"time_zone\":\"Europe/London\",\"layers\":[
 {\"name\":\"7x24\",\"rotation\":{\"every\":\"weekly\",\"count\":1},\"start\":\"2026-11-02\",\"handoff\":\"09:00\",\"participants\":[$all]},
 {\"name\":\"weekend\",\"rotation\":{\"every\":\"daily\",\"count\":1},\"start\":\"2026-11-02\",\"handoff\":\"09:00\",\"participants\":[$ten],\"restrictions\":[{\"days\":[\"sat\",\"sun\"],\"from\":\"00:00\",\"to\":\"00:00\"}]},
 {\"name\":\"business\",\"rotation\":{\"every\":\"daily\",\"count\":1},\"start\":\"2026-11-02\",\"handoff\":\"09:00\",\"participants\":[$ten2],\"restrictions\":[{\"days\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"from\":\"09:00\",\"to\":\"17:00\"}]}]}" $API/schedules | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
now=$(date -u +%s)
for i in $(seq 0 19); do
  s=$(date -u -d "@$((now + i*37*3600))" +%Y-%m-%dT%H:00:00Z); e=$(date -u -d "@$((now + i*37*3600 + 12*3600))" +%Y-%m-%dT%H:00:00Z)
  curl -sf -H "$H" -H 'Content-Type: application/json' -d "{\"user\":\"p$((i+1))@example.com\",\"start\":\"$s\",\"end\":\"$e\"}" $API/schedules/$ID/overrides >/dev/null
done
# Pages need a session: sign in through the form.
JAR=$DIR/jar; curl -s -c $JAR -b $JAR http://127.0.0.1:$PORT/login > $DIR/login.html
CSRF=$(grep -o 'name="csrf_token" value="[^"]*"' $DIR/login.html | head -1 | sed 's/.*value="//; s/"//')
curl -s -c $JAR -b $JAR -o /dev/null --data-urlencode email=p1@example.com --data-urlencode "password=correct horse battery staple" --data-urlencode "csrf_token=$CSRF" http://127.0.0.1:$PORT/login
URL="http://127.0.0.1:$PORT/schedules/$ID?weeks=4"
for i in $(seq 1 20); do curl -s -b $JAR -o /dev/null --compressed $URL; done
for i in $(seq 1 500); do curl -s -b $JAR -o /dev/null --compressed -w '%{time_total}\n' $URL; done | sort -n > $DIR/t
echo "bytes: $(curl -s -b $JAR $URL | wc -c)  bars: $(curl -s -b $JAR $URL | grep -o 'tl-bar' | wc -l)"
awk '{a[NR]=$1} END {printf "p50 %.2f ms  p99 %.2f ms  max %.2f ms (n=%d)\n", a[int(NR*0.5)]*1000, a[int(NR*0.99)]*1000, a[NR]*1000, NR}' $DIR/t
