#!/usr/bin/env bash
# Deliberately broken builds: each mutant below breaks one behaviour a test claims to check,
# builds, runs that test, and expects it to FAIL ("killed"). A mutant whose test still
# passes ("survived") means the test cannot catch the breakage it is named for; a mutant
# whose pattern no longer matches the source ("stale") must be rewritten. Not part of the
# default test run (each mutant is a rebuild): run `bash tests/mutants.sh [NAME...]`.
# The tree is restored after each mutant (and on interrupt); it must have no uncommitted
# change in the files mutated.
set -uo pipefail
cd "$(dirname "$0")/.."

# name | file | literal text | replacement | cargo test arguments
MUTANTS=(
  "systemctl-verb|src/host/pending.rs|arg(\"daemon-reload\")|arg(\"daemon-reloads\")|--test apply"
  "systemctl-unit|src/steps/containerd.rs|args([verb, \"containerd\"])|args([verb, \"containerd-daemon\"])|--test runtime"
  "ctr-address|src/node/facts/containerd.rs|args([\"--address\", socket, \"version\"])|args([\"--address\", \"/run/containerd/containerd.sock\", \"version\"])|--test runtime verify_asks_containerd_on_the_socket_it_serves"
  "apt-downgrade|src/packages/apt.rs|args.push(\"--allow-downgrades\".into());|{}|--test packages_apt"
  "apt-hold|src/packages/apt.rs|.arg(\"hold\")|.arg(\"unhold\")|--test packages_apt"
  "node-lock|src/host/lock.rs|FlockArg::LockExclusiveNonblock|FlockArg::UnlockNonblock|--test apply a_held_lock_refuses_a_second_apply"
  "not-ready|src/steps/kubeadm/work.rs|out.success() && out.stdout.trim() == \"True\"|out.success()|--test kubeadm a_node_that_never_becomes_ready_fails_after_the_ready_timeout"
  "sysctl-render|src/formats/sysctl_conf.rs|out.push_str(&format!(\"{key} = {value}\\n\"));|out.push_str(&format!(\"{key} = {}\\n\", value.split(' ').next().unwrap_or_default()));|--lib format_props"
  "line-ends|src/formats/lines.rs|text.split_inclusive('\\n').collect()|text.lines().collect()|--lib -- formats::hosts::tests::untouched_text_round_trips formats::hosts::tests::edit_is_idempotent"
)

selected=("$@")
killed=0 survived=0 stale=0
restore() { [ -n "${backup:-}" ] && [ -f "$backup" ] && cp "$backup" "$file" && rm -f "$backup"; backup=; }
trap 'restore; exit 130' INT TERM
for entry in "${MUTANTS[@]}"; do
  IFS='|' read -r name file from to args <<<"$entry"
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " == *" $name "* ]]; then continue; fi
  backup=$(mktemp); cp "$file" "$backup"
  if ! FROM=$from TO=$to python3 - "$file" <<'PY'
import os, sys
path = sys.argv[1]; text = open(path).read(); old = os.environ["FROM"]
if old not in text: sys.exit(1)
open(path, "w").write(text.replace(old, os.environ["TO"], 1))
PY
  then
    echo "STALE     $name: '$from' is not in $file"; stale=$((stale + 1)); restore; continue
  fi
  # shellcheck disable=SC2086
  if cargo test -q $args >/tmp/mutant-$name.log 2>&1; then
    echo "SURVIVED  $name: \`cargo test $args\` passed with $file broken (log /tmp/mutant-$name.log)"
    survived=$((survived + 1))
  else
    echo "killed    $name: \`cargo test $args\` failed, as it must"
    killed=$((killed + 1))
  fi
  restore
done
echo "== mutants: $killed killed, $survived survived, $stale stale"
[ "$survived" = 0 ] && [ "$stale" = 0 ]
