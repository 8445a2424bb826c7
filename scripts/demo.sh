#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install what probe needs, bring up the
# built-in emulated devices (real daemons in network namespaces on 10.231.<N>.0/24; nothing
# leaves the machine), scan the weak home gateway with the full home-gateway profile, print its
# clause table and write the evidence, then tear the lab down, also on error or Ctrl-C.
#
#   bash scripts/demo.sh [VARIANT] [extra `probe run` options...]
#   e.g. bash scripts/demo.sh hardened-gateway --holding jc-star --apply-for cls
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANT="${1:-weak-gateway}"
shift || true
INSTANCE="${PROBE_DEMO_INSTANCE:-1}"
OUT="${PROBE_DEMO_OUT:-demo-out}"

bash scripts/setup.sh
mkdir -p "$OUT"
probe lab down --instance "$INSTANCE" >/dev/null 2>&1 || true
trap 'probe lab down --instance "$INSTANCE" >/dev/null 2>&1 || true' EXIT
probe lab up "$VARIANT" --instance "$INSTANCE"
status=$(probe lab status --json --instance "$INSTANCE")
read -r ADDR PROFILE CA < <(python3 -c 'import json,sys
d=[x for x in json.loads(sys.argv[1]) if x["name"]==sys.argv[2]][0]
print(d["address"], d["profile"], d.get("ca_cert") or "-")' "$status" "$VARIANT")
extra=()
[ "$CA" != "-" ] && extra+=(--ca-file "$CA")
echo
echo "== probe run --target $ADDR --profile $PROFILE --allow-brute-force-test ${extra[*]} $*"
set +e
probe run --target "$ADDR" --profile "$PROFILE" --allow-brute-force-test --credential-budget 8 \
  --out "$OUT/$VARIANT.json" --pack "$OUT/$VARIANT.tar" "${extra[@]}" "$@"
rc=$?
set -e
probe report "$OUT/$VARIANT.tar" --format html --out "$OUT/$VARIANT.html" >/dev/null
echo
echo "exit code $rc (0 pass, 1 some clause FAIL, 3 incomplete, 4 inconclusive; see README)"
echo "evidence: $OUT/$VARIANT.json   pack: $OUT/$VARIANT.tar   report: $OUT/$VARIANT.html"
echo "verify the pack: probe verify $OUT/$VARIANT.tar"
