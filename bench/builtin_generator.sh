#!/usr/bin/env bash
# Evidence for the built-in generator (issue 15): `evokernel evolve` with no model over whole
# suites, then the figures from the runs' reports:
#   - share of tasks with a feasible kernel, per level;
#   - median speedup of the best kernel over the task's first feasible draft;
#   - share of level1 tasks faster than PyTorch eager (fast_1; trusted timings only);
#   - median roofline fraction of the best kernels;
#   - iterations to the first feasible kernel and to the best one;
# for each retrieval policy and seed (a fresh bank per run, in the output directory), with the
# mean and the spread (min..max) over seeds.
#
# Usage: bench/builtin_generator.sh [BUDGET] [SEEDS] [POLICIES] [SUITES]
#        defaults: 30, 1, "value", "level1 level2"; e.g. bench/builtin_generator.sh 30 3 "value similarity none"
# Environment: OUT (default /tmp/evokernel-builtin-bench), JOBS (evolve -j, default 1).
# Time: about 5 s per evaluation on a 2-core machine; a task stops early once every setting of
# its recipe was tried (search_exhausted costs nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-30}
seeds=${2:-1}
policies=${3:-value}
suites=${4:-level1 level2}
out=${OUT:-/tmp/evokernel-builtin-bench}
bin=build/release/src/evokernel
[ -x "$bin" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 2; }
mkdir -p "$out"
suite_args=()
for s in $suites; do suite_args+=(--suite "$s"); done
echo "# evokernel built-in generator, budget $budget, seeds $seeds, policies: $policies, suites: $suites ($(date -u +%Y-%m-%dT%H:%MZ))"
"$bin" version --json | python3 -c 'import json, sys; v = json.load(sys.stdin); print("# commit %s, %s build, %s, %s logical cores" % (v.get("commit"), v.get("build_type"), v.get("cpu"), v.get("logical_cores")))'
for policy in $policies; do
  for seed in $(seq 1 "$seeds"); do
    name="$policy-seed$seed"
    rm -rf "${out:?}/$name"
    mkdir -p "$out/$name"
    start=$(date +%s)
    EVOKERNEL_RUNS_DIR="$out/$name/runs" "$bin" evolve --method builtin "${suite_args[@]}" --budget "$budget" \
      --retrieval "$policy" --seed "$seed" --bank "$out/$name/bank.sqlite" -j "${JOBS:-1}" -q --json \
      >"$out/$name/summary.json"
    run=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["run"])' "$out/$name/summary.json")
    "$bin" report "$out/$name/runs/$run" -f json -o "$out/$name/report.json"
    echo "# $name: $(( $(date +%s) - start )) s, run $out/$name/runs/$run"
  done
done
python3 - "$out" $policies <<'EOF'
import json, statistics, sys
out, policies = sys.argv[1], sys.argv[2:]
import glob, os

def figures(report):
    tasks = [t for r in report["runs"] for t in r["tasks"]]
    f = {}
    for level in sorted({t["level"] for t in tasks}):
        ts = [t for t in tasks if t["level"] == level]
        f[f"feasible level{level}"] = sum(1 for t in ts if t["solved"]) / len(ts)
    vs_draft = [t["speedup_vs_draft"] for t in tasks if t.get("speedup_vs_draft") and t.get("speedup_vs_draft_trusted")]
    f["median speedup over first draft"] = statistics.median(vs_draft) if vs_draft else float("nan")
    l1 = [t for t in tasks if t["level"] == 1]
    if l1:
        f["fast_1 level1"] = sum(1 for t in l1 if t["solved"] and t.get("speedup_trusted") and (t.get("speedup_vs_eager") or 0) > 1) / len(l1)
    roof = [t["roofline_fraction"] for t in tasks if t.get("roofline_fraction") is not None]
    f["median roofline fraction"] = statistics.median(roof) if roof else float("nan")
    first = [t["first_feasible_iteration"] for t in tasks if t.get("first_feasible_iteration")]
    f["mean iterations to first feasible"] = statistics.mean(first) if first else float("nan")
    best = [t["best_iteration"] for t in tasks if t.get("best_iteration")]
    f["mean iteration of the best kernel"] = statistics.mean(best) if best else float("nan")
    return f

rows = {}
for policy in policies:
    per_seed = []
    for path in sorted(glob.glob(os.path.join(out, f"{policy}-seed*", "report.json"))):
        per_seed.append(figures(json.load(open(path))))
    rows[policy] = per_seed
keys = list(next(iter(rows.values()))[0].keys()) if rows and next(iter(rows.values())) else []
print("| figure | " + " | ".join(f"{p} (mean, min..max over {len(rows[p])} seed(s))" for p in policies) + " |")
print("|---|" + "---|" * len(policies))
for k in keys:
    cells = []
    for p in policies:
        vals = [s[k] for s in rows[p] if k in s]
        pct = k.startswith("feasible") or k.startswith("fast_1") or "roofline" in k
        fmt = (lambda v: f"{100 * v:.1f}%") if pct else (lambda v: f"{v:.2f}")
        cells.append(f"{fmt(statistics.mean(vals))} ({fmt(min(vals))}..{fmt(max(vals))})" if vals else "-")
    print(f"| {k} | " + " | ".join(cells) + " |")
EOF
