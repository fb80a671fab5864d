#!/usr/bin/env bash
# End-to-end learning benchmark (issue 14): does value-driven retrieval help the real `evolve`
# loop reach correct kernels sooner than similarity retrieval?
#
# The model is replaced by the LEARNING WORLD (tests/support/learning_world.h; a scripted endpoint,
# not a model): a draft is correct with probability clamp(0.05 + the hidden helpfulness of the
# memory items its prompt shows), and is then the task's shipped reference kernel
# (tests/kernels/<task>/naive.cpp), else that kernel with a line that does not compile. Own items
# help or mislead their category; cross items help one category of a look-alike pair and mislead
# the other; the run's correct kernels help later tasks of their category (and, in a later pass,
# the same task: +0.6), and its failed attempts mislead retries. Everything else is evokernel's own: `evolve --draft-only` (retrieval, values
# per scope, the verifier, the bank, the run records).
#
# For each seed and policy: a fresh bank holding the world's items, the world's server, one run
# over the tasks; then the share of tasks with a correct draft by iteration t, the mean
# iterations to it, and how often the prompts showed a helpful or a misleading item, as mean,
# standard deviation and min..max over seeds.
#
# Usage: bench/learning.sh [BUDGET] [SEEDS] [POLICIES]
#   defaults: 10, 3, "value/item value/category value/neighbourhood similarity none"
# Environment: OUT (default /tmp/evokernel-learning-bench), TASKS (default: the 13 tasks with a
# shipped CPU reference kernel), SUMMARY_ONLY=1 (print the tables of runs already in OUT), PASSES (default 1): runs over the tasks, one after the other, on
# the same bank (a team running the suite again); each pass draws new luck and is reported on its
# own. The value scopes can differ only from the second pass on: within one pass an item meets a
# category's tasks together (the curriculum groups them), and a category an item has not met
# reads its global value.
# Time: a failed draft costs well under a second (its compile error is cached per task), a correct
# one about 4 s (verified and timed); about 2 minutes per run of 13 tasks on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-10}
seeds=${2:-3}
policies=${3:-value/item value/category value/neighbourhood similarity none}
out=${OUT:-/tmp/evokernel-learning-bench}
passes=${PASSES:-1}
bin=build/release/src/evokernel
world=build/release/tests/learning_world_server
for b in "$bin" "$world"; do
  [ -x "$b" ] || { echo "build first: cmake --preset release && cmake --build --preset release ($b missing)" >&2; exit 2; }
done
tasks=${TASKS:-$(ls tests/kernels | while read -r d; do [ -f "tests/kernels/$d/naive.cpp" ] && echo "${d/__//}"; done)}
task_args=()
for t in $tasks; do task_args+=(--task "$t"); done
mkdir -p "$out"
echo "# evokernel end-to-end learning benchmark (scripted learning world, not a model): budget $budget, seeds $seeds, passes $passes"
echo "# tasks ($(echo $tasks | wc -w)): $(echo $tasks)"
"$bin" version --json | python3 -c 'import json, sys, datetime; v = json.load(sys.stdin); print("# commit %s, %s build, %s, %s logical cores, %s" % (v.get("commit"), v.get("build_type"), v.get("cpu"), v.get("logical_cores"), datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")))'
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; }
trap cleanup EXIT
[ "${SUMMARY_ONLY:-0}" = 1 ] && seed_list="" || seed_list=$(seq 1 "$seeds")
for seed in $seed_list; do
  for policy in $policies; do
    retrieval=${policy%%/*}
    scope=${policy#*/}
    [ "$scope" = "$policy" ] && scope=category
    name="$(echo "$policy" | tr / -)-seed$seed"
    dir="$out/$name"
    rm -rf "${dir:?}"
    mkdir -p "$dir"
    start=$(date +%s)
    for pass in $(seq 1 "$passes"); do
      rm -f "$dir/port"
      "$world" "${task_args[@]}" --kernels tests/kernels --seed "$seed" --pass "$pass" --bank "$dir/bank.sqlite" \
        --port-file "$dir/port" --log "$dir/answers-pass$pass.jsonl" --world-out "$dir/world.json" \
        2>>"$dir/server.log" &
      server=$!
      for _ in $(seq 1 600); do [ -s "$dir/port" ] && break; kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
      [ -s "$dir/port" ] || { cat "$dir/server.log" >&2; exit 2; }
      rc=0
      EVOKERNEL_RUNS_DIR="$dir/runs-pass$pass" "$bin" evolve "${task_args[@]}" --draft-only --budget "$budget" \
        --retrieval "$retrieval" --value-scope "$scope" --seed "$((seed * 1000 + pass))" --bank "$dir/bank.sqlite" \
        --provider openai --base-url "http://127.0.0.1:$(cat "$dir/port")/v1" --model learning-world \
        --no-llm-cache --trials 2 --timing-budget 0.05 -q --json >"$dir/summary-pass$pass.json" \
        2>>"$dir/evolve.log" || rc=$?
      kill "$server"; wait "$server" 2>/dev/null || true
      server=
      [ "$rc" = 0 ] || { echo "evolve failed ($rc) for $name pass $pass:" >&2; tail -5 "$dir/evolve.log" >&2; exit 2; }
    done
    echo "# $name: $(( $(date +%s) - start )) s"
  done
done
python3 - "$out" "$budget" "$seeds" "$passes" $policies <<'EOF'
import glob, json, os, statistics, sys
out, budget, seeds, passes, policies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
marks = [t for t in (1, 2, 3, 5, 10, 20, 30) if t <= budget]
if budget not in marks: marks.append(budget)

def run_figures(d, p):
    runs = glob.glob(os.path.join(d, f"runs-pass{p}", "*", "events.jsonl"))
    assert len(runs) == 1, d
    first = {}
    tasks = set()
    for line in open(runs[0]):
        e = json.loads(line)
        if e.get("type") != "iteration": continue
        tasks.add(e["task"])
        if e["outcome"] == "feasible" and e["task"] not in first: first[e["task"]] = e["iteration"]
    world = json.load(open(os.path.join(d, "world.json")))
    effect = {it["id"][len("world-"):]: it["effects"] for it in world["items"]}
    shown = helpful = misleading = 0
    for line in open(os.path.join(d, f"answers-pass{p}.jsonl")):
        a = json.loads(line)
        if a["stage"] != "draft": continue
        shown += 1
        es = [effect.get(m, {}).get(a["category"], 0) for m in a["seen"] if not m.startswith("kernel:")]
        helpful += any(e > 0 for e in es)
        misleading += any(e < 0 for e in es)
    n = len(tasks)
    f = {f"t={t}": 100.0 * sum(1 for v in first.values() if v <= t) / n for t in marks}
    f["iterations to correct"] = statistics.mean(first.get(t, budget + 1) for t in tasks)
    f["prompts with a helpful item"] = 100.0 * helpful / max(shown, 1)
    f["prompts with a misleading item"] = 100.0 * misleading / max(shown, 1)
    return f, n

for p in range(1, passes + 1):
  rows = {}
  ntasks = 0
  for policy in policies:
      per_seed = []
      for seed in range(1, seeds + 1):
          f, ntasks = run_figures(os.path.join(out, f"{policy.replace('/', '-')}-seed{seed}"), p)
          per_seed.append(f)
      rows[policy] = per_seed

  cols = [f"t={t}" for t in marks] + ["iterations to correct", "prompts with a helpful item", "prompts with a misleading item"]
  print(f"\nPass {p} of {passes}. Share of the {ntasks} tasks with a correct draft by iteration t (%), mean iterations to it "
        f"(budget + 1 when never), and the share of draft prompts showing a helpful / misleading world item; "
        f"mean +- standard deviation [min..max] over {seeds} seed(s):\n")
  print("| policy | " + " | ".join(cols) + " |")
  print("|---" * (len(cols) + 1) + "|")
  for policy, per_seed in rows.items():
      cells = []
      for c in cols:
          v = [f[c] for f in per_seed]
          sd = statistics.stdev(v) if len(v) > 1 else 0.0
          digits = 2 if c == "iterations to correct" else 1
          cells.append(f"{statistics.mean(v):.{digits}f} +-{sd:.{digits}f} [{min(v):.{digits}f}..{max(v):.{digits}f}]")
      print(f"| {policy} | " + " | ".join(cells) + " |")
  sim = rows.get("similarity")
  if sim:
      print("\nValue retrieval minus similarity at the budget (points; per seed, then the mean):")
      last = f"t={budget}"
      for policy, per_seed in rows.items():
          if not policy.startswith("value"): continue
          d = [a[last] - b[last] for a, b in zip(per_seed, sim)]
          d5 = [a[f"t={marks[min(3, len(marks) - 1)]}"] - b[f"t={marks[min(3, len(marks) - 1)]}"] for a, b in zip(per_seed, sim)]
          print(f"- {policy}: {', '.join(f'{x:+.1f}' for x in d)} (mean {statistics.mean(d):+.1f}); "
                f"at t={marks[min(3, len(marks) - 1)]}: mean {statistics.mean(d5):+.1f}")
EOF
