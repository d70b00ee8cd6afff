#!/bin/sh
# SPDX-License-Identifier: MIT
# main.sh: the main job, hant's whole mission on the default teacher in about ten minutes on two cores.
#
#   scripts/main.sh [--no-install] [--tiny] [--state DIR] [--build-dir DIR] [--retrain]
#
# Installs what is missing and builds, then: evaluates the teacher; builds
# the quick operator library (hant-distill build --preset quick) in
# build/main/ (a rerun finds it built); costs it on this host (measured)
# and on three shipped devices (modelled); starts hantd on a private
# socket; transforms the teacher for two devices and budgets and exports
# each network to ONNX; evaluates the exports in ONNX Runtime on the
# Fashion-MNIST test split; regenerates the example fleet with its report;
# prints a summary table on stdout and stops the daemon.
#
#   --no-install     skip scripts/install-deps.sh and the build (use the build dir as it is)
#   --tiny           a test-sized run (about a minute): one family, 256 training
#                    images, modelled host costs, no fine-tuning, accuracy on the
#                    first 1000 test images
#   --state DIR      where the library, the daemon's socket and the outputs go
#                    (default build/main; build/main-tiny with --tiny)
#   --build-dir DIR  the meson build directory (default build)
#   --retrain        first retrain the teacher with its recorded command (about an hour)
#
# Progress goes to stderr, one line per step with what it showed; the summary
# table goes to stdout. Exit status: 0 done, 1 a step failed (named on stderr),
# 2 usage error.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
install=1 tiny=0 retrain=0 state="" bdir=build
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0 ;;
    --tiny) tiny=1 ;;
    --retrain) retrain=1 ;;
    --state) [ $# -ge 2 ] || { echo "main.sh: --state needs a directory" >&2; exit 2; }; state=$2; shift ;;
    --build-dir) [ $# -ge 2 ] || { echo "main.sh: --build-dir needs a directory" >&2; exit 2; }; bdir=$2; shift ;;
    -h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "main.sh: unknown option '$1' (see scripts/main.sh --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$state" ] || { [ $tiny -eq 1 ] && state=build/main-tiny || state=build/main; }
case "$state" in /*) ;; *) state="$ROOT/$state" ;; esac
case "$bdir" in /*) ;; *) bdir="$ROOT/$bdir" ;; esac

now() { date +%s.%N; }
T0=$(now)
STEP=0
# step WHAT: starts a timed step; done_step SHOWED: ends it, saying what it showed.
step() { STEP=$((STEP + 1)); STEP_NAME=$1; STEP_T=$(now); echo "main: [$STEP] $1 ..." >&2; }
done_step() {
  secs=$(awk -v a="$STEP_T" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  echo "main: [$STEP] $STEP_NAME: $1 ($secs s)" >&2
  TIMES="${TIMES:-}$(printf '%-34s %7s s' "$STEP_NAME" "$secs")
"
}
fail() { echo "main: [$STEP] $STEP_NAME failed: $*" >&2; exit 1; }
# jget FILE EXPR: evaluates a Python expression over the JSON document d in FILE.
jget() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

if [ $install -eq 1 ]; then
  step "install and build"
  sh scripts/install-deps.sh
  sh scripts/build.sh "$bdir"
  done_step "dependencies present, hant built in $bdir"
fi
HD="$bdir/distill/hant-distill" HANTD="$bdir/daemon/hantd" HC="$bdir/client/hant-client"
for p in "$HD" "$HANTD" "$HC"; do [ -x "$p" ] || { echo "main.sh: $p is missing: build first (drop --no-install)" >&2; exit 1; }; done
DATA=${HANT_FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
ORT="$ROOT/tests/onnx/ort_run.mjs"
[ -d "$ROOT/tests/onnx/node_modules/onnxruntime-node" ] || { echo "main.sh: onnxruntime-node is missing: run scripts/install-ort.sh" >&2; exit 1; }
mkdir -p "$state/out"
eval_n=10000
[ $tiny -eq 0 ] || eval_n=1000
T_AFTER_INSTALL=$(now)

# The teacher: the committed default, by absolute path, because the detached
# daemon's working directory is not ours.
teacher="$ROOT/models/teacher-fmnist.onnx"
if [ $retrain -eq 1 ]; then
  step "retrain the teacher"
  # The commands recorded in models/teacher-fmnist.md.
  "$HD" teacher --data fmnist --arch resnet10 --epochs 15 --seed 1 --out "$state/teacher-fmnist.hant"
  "$HD" export --model "$state/teacher-fmnist.hant" --out "$state/teacher-fmnist.onnx"
  teacher="$state/teacher-fmnist.onnx"
  done_step "retrained into $teacher"
fi

# ---- 1. the teacher -----------------------------------------------------------
step "evaluate the teacher"
"$HD" eval --model "$teacher" --data fmnist --split test --samples $eval_n --json >"$state/teacher-eval.json" || fail "hant-distill eval"
t_acc=$(jget "$state/teacher-eval.json" "'%.2f' % (100 * d['accuracy'])")
done_step "ResNet-10 teacher, $t_acc % on the $(jget "$state/teacher-eval.json" "d['n']") test images"

# ---- 2. the operator library --------------------------------------------------
step "build the quick library"
db="$state/library.db"
if [ $tiny -eq 1 ]; then
  build_args="--preset quick --families lowrank --per-family 1 --samples 256 --val-samples 200"
else
  build_args="--preset quick"
fi
# shellcheck disable=SC2086
"$HD" build $build_args --teacher "$teacher" --db "$db" --json >"$state/build.jsonl" 2>"$state/build.log" ||
  fail "hant-distill build: $(tail -2 "$state/build.log")"
tail -1 "$state/build.jsonl" >"$state/build-summary.json"
done_step "$(jget "$state/build-summary.json" \
  "'%d candidates over %d slots: %d already built, %d trained now in %.0f s (%.0f CPU s, %.1f J)' % (d['planned'], d['slots'], d['existing'], d['trained'], d['wall_seconds'], d['cpu_seconds'], d['energy_j'])") in $db"

# ---- 3. costs -----------------------------------------------------------------
devices="jetson-nano rpi4 cortex-m7"
step "cost the library on 4 devices"
n_cands=$(sqlite3 "$db" "SELECT count(*) FROM candidate")
n_host=$(sqlite3 "$db" "SELECT count(*) FROM cost c JOIN device d ON d.id = c.device_id WHERE d.name = 'host' AND c.batch = 1")
if [ $tiny -eq 1 ]; then
  "$HD" profile --db "$db" --device host --model -q >/dev/null || fail "hant-distill profile --device host --model"
  host_how="modelled (--tiny)"
elif [ "$n_host" -ge "$n_cands" ]; then
  host_how="measured before (kept)"
else
  # One pass, fewer samples: the quick library's costs, in seconds, not minutes.
  # --roofline: the kernel table (a sweep of 660 kernels, minutes) is for checking the host model, not for
  # costing the candidates, which are measured either way.
  "$HD" profile --db "$db" --device host --passes 1 --attempts 2 --max-samples 40 --roofline -q >/dev/null ||
    fail "hant-distill profile --device host"
  host_how="measured"
fi
for d in $devices; do
  "$HD" profile --db "$db" --device "$d" -q >/dev/null || fail "hant-distill profile --device $d"
done
done_step "$n_cands candidates costed: host $host_how; $devices modelled from devices/*.json"

# ---- 4. the daemon ------------------------------------------------------------
step "start hantd"
sock="$state/hantd.sock"
HC="$HC --socket $sock"
daemon_pid=""
stop_daemon() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  daemon_pid=""
}
trap 'stop_daemon' EXIT
trap 'stop_daemon; exit 1' INT TERM HUP
# In the background with its pid kept (--foreground only means "do not fork"),
# so the trap above stops this daemon and no other.
"$HANTD" --db "$db" --socket "$sock" --state-dir "$state/hantd-state" --foreground --log-level warning \
  2>"$state/hantd.log" &
daemon_pid=$!
i=0
until $HC status >/dev/null 2>&1; do
  kill -0 "$daemon_pid" 2>/dev/null || fail "hantd exited: $(tail -3 "$state/hantd.log")"
  i=$((i + 1)); [ $i -lt 200 ] || fail "hantd did not answer on $sock within 20 s"
  sleep 0.1
done
done_step "serving $db on $sock (pid $daemon_pid)"

# ---- 5. transforms ------------------------------------------------------------
"$HD" library --db "$db" --json >"$state/library.json"
# teacher_cost DEVICE[@MODE] FIELD: the teacher's own blocks summed on a device, as the solver sees them.
teacher_cost() {
  jget "$state/library.json" "sum(c['costs']['$1']['$2'] for s in d['slots'] for c in s['candidates'] if c['key'] == 'teacher')"
}
# Half the teacher's energy on rpi4, relative to the teacher on that device.
rpi4_budget="--budget 50%energy"
rpi4_label="50% energy"
nano_budget="--budget 2W --fps 30"
nano_label="2W at 30 fps"

# transform NAME DEVICE LABEL ARGS...: one transform with --out, its answer in NAME.json.
transform() {
  name=$1 dev=$2 label=$3
  shift 3
  rc=0
  # shellcheck disable=SC2086
  $HC transform --device "$dev" "$@" --out "$state/out/$name.onnx" --json >"$state/out/$name.json" \
    2>"$state/out/$name.err" || rc=$?
  case $rc in
    0) echo "$name $dev" >>"$state/out/done" ;;
    4) echo "main: $dev, $label: infeasible; the least it can do: $(head -1 "$state/out/$name.json" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("min_totals"))')" >&2 ;;
    *) fail "hant-client transform --device $dev $*: exit $rc: $(tail -3 "$state/out/$name.err")" ;;
  esac
}
step "transform for two devices"
: >"$state/out/done"
# shellcheck disable=SC2086
transform jetson-nano-2W-30fps jetson-nano "$nano_label" $nano_budget
# shellcheck disable=SC2086
transform rpi4-half-energy rpi4 "$rpi4_label" $rpi4_budget
done_step "$(wc -l <"$state/out/done") networks chosen and exported to $state/out/*.onnx"

# ---- 6. ONNX Runtime ----------------------------------------------------------
step "evaluate the exports in ONNX Runtime"
node "$ORT" fmnist "$teacher" "$DATA" --threads 2 --samples $eval_n >"$state/out/teacher.ort.json" || fail "ONNX Runtime on the teacher"
shown="teacher $(jget "$state/out/teacher.ort.json" "'%.2f %%' % (100 * d['accuracy'])")"
while read -r name dev; do
  node "$ORT" fmnist "$state/out/$name.onnx" "$DATA" --threads 2 --samples $eval_n >"$state/out/$name.ort.json" ||
    fail "ONNX Runtime on $state/out/$name.onnx"
  shown="$shown, $name $(jget "$state/out/$name.ort.json" "'%.2f %%' % (100 * d['accuracy'])")"
done <"$state/out/done"
done_step "accuracy on $eval_n test images: $shown"

# ---- 7. a fleet ---------------------------------------------------------------
step "regenerate the example fleet"
# Fine-tuning and evaluation sized for a first look: a few thousand images
# (regen --finetune-images; the fleet's eval_samples); a scheduled job would
# use the fleet's own settings.
if [ $tiny -eq 1 ]; then ft="--finetune-epochs 0"; evn=200; else ft="--finetune-images 2048"; evn=1000; fi
python3 - "$ROOT/docs/examples/example-fleet.json" "$state/fleet.json" "$evn" <<'EOF'
import json, sys
fleet = json.load(open(sys.argv[1]))
fleet.pop("$schema", None)
fleet["defaults"] = {**fleet.get("defaults", {}), "eval_samples": int(sys.argv[3])}
json.dump(fleet, open(sys.argv[2], "w"), indent=1)
EOF
rc=0
# shellcheck disable=SC2086
$HC regen "$state/fleet.json" --out "$state/regen" $ft --json >"$state/regen.json" 2>"$state/regen.log" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 6 ] || fail "hant-client regen: exit $rc: $(tail -3 "$state/regen.log")"
done_step "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(", ".join("%s %s" % (k, v) for k, v in d.items() if isinstance(v, (int, str)) and not isinstance(v, bool)))' "$state/regen.json" 2>/dev/null || echo "entries written"); report $state/regen/report.html"

# ---- 8. the summary -----------------------------------------------------------
step "stop hantd"
stop_daemon
done_step "stopped"

python3 - "$state" "$state/library.json" "$state/out/teacher.ort.json" <<'EOF'
import json, os, sys
state, lib, t_ort = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
grid = lib.get("grid_g_per_kwh", 475.0)

def teacher(dev, field):
    return sum(c["costs"][dev][field] for s in lib["slots"] for c in s["candidates"] if c["key"] == "teacher")

def co2(mj):  # grams of CO2e per million inferences
    return mj * 1e-3 * 1e6 / 3.6e6 * grid

rows = []
for name, dev, label in (("jetson-nano-2W-30fps", "jetson-nano", "2W at 30 fps"),
                         ("rpi4-half-energy", "rpi4", "50% energy")):
    # The answer's line, then the export job's.
    ans = json.loads(open(os.path.join(state, "out", name + ".json")).readline())
    mode = ans.get("power_mode") or ""
    key = dev + ("@" + mode if mode else "")
    te, tl = teacher(key, "energy_mj"), teacher(key, "latency_ms")
    tot = ans.get("totals", {})
    ort = os.path.join(state, "out", name + ".ort.json")
    acc = "%.2f" % (100 * json.load(open(ort))["accuracy"]) if os.path.exists(ort) else "-"
    if ans.get("status") == "infeasible":
        rows.append((dev, label, "infeasible", "", "", ""))
        continue
    rows.append((dev + (" " + mode if mode else ""), label,
                 "%.3g -> %.3g mJ" % (te, tot["energy_mj"]), "%.3g -> %.3g ms" % (tl, tot["latency_ms"]),
                 "%.2f -> %s %%" % (100 * t_ort["accuracy"], acc), "%.3g -> %.3g g" % (co2(te), ans["co2e_g_per_million"])))
head = ("device", "budget", "energy/inference", "latency", "accuracy (ORT, test)", "CO2e per 1M inferences")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
EOF

total=$(awk -v a="$T0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')
after=$(awk -v a="$T_AFTER_INSTALL" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')
printf '%s' "$TIMES" | sed 's/^/main: /' >&2
echo "main: total $total s ($after s after the install and build); state in $state" >&2
