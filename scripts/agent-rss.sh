#!/usr/bin/env bash
# Peak RSS of the fleet agent example connected to a TLS MQTT broker (mosquitto, client
# certificates required), against mosquitto_sub (C, libmosquitto + OpenSSL) subscribed to the
# same topic over the same TLS listener, in the same run. Needs openssl, mosquitto and
# mosquitto-clients (installed when missing). Usage: scripts/agent-rss.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
for p in openssl mosquitto mosquitto-clients; do
    dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$p" >/dev/null; }
done
w=$(mktemp -d)
cleanup() { kill "${broker:-}" "${agent:-}" "${peer:-}" 2>/dev/null || true; rm -rf "$w"; }
trap cleanup EXIT
cd "$w"
ec() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 "$@" 2>/dev/null; }
ec -keyout ca.key -out ca.pem -subj "/CN=rss test CA" -addext basicConstraints=critical,CA:TRUE
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out server.pem -extfile san.ext 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -out device.csr -subj "/CN=device-1" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in device.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out device.pem -extfile client.ext 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\ncafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\nrequire_certificate true\n' \
    "$port" "$w" "$w" "$w" > m.conf
# mosquitto drops to its own user when started as root: let it read the (test-only) files.
chmod 755 "$w" && chmod 644 "$w"/*
/usr/sbin/mosquitto -c m.conf >m.log 2>&1 & broker=$!
for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && break
    kill -0 "$broker" 2>/dev/null || { echo "mosquitto exited:"; cat m.log; exit 1; }
    sleep 0.1
done
(cd "$repo" && cargo build -q --release --example fleet_agent --features rumqttc,store && cargo build -q --release -p aws-iot-roots-cli)
"$repo/target/release/iot-roots" keygen --out k.pem --pub-out k.pub >/dev/null
"$repo/target/release/iot-roots" signer-set --threshold 1 k.pub --out set.json >/dev/null
sleep 0.5
hwm() { grep VmHWM "/proc/$1/status" | awk '{print $2}'; }
IOT_ENDPOINT=localhost:$port THING_NAME=device-1 CERT=device.pem KEY=device.key STATE_DIR=$w/state \
    FLEET=rss SIGNERS=set.json EXTRA_CA=ca.pem "$repo/target/release/examples/fleet_agent" & agent=$!
mosquitto_sub -h localhost -p "$port" --cafile ca.pem --cert device.pem --key device.key \
    -t '$aws/things/device-1/jobs/notify-next' >/dev/null & peer=$!
sleep 3
kill -0 "$agent" 2>/dev/null || { echo "the agent exited (not connected)"; exit 1; }
kill -0 "$peer" 2>/dev/null || { echo "mosquitto_sub exited (not connected)"; exit 1; }
a=$(hwm "$agent"); p=$(hwm "$peer")
echo "fleet_agent (connected, store open): VmHWM ${a} kB"
echo "mosquitto_sub (connected, same TLS):  VmHWM ${p} kB"
awk -v a="$a" -v p="$p" 'BEGIN { printf "ratio: %.2f\n", a / p }'
