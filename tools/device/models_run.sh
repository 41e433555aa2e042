#!/usr/bin/env bash
# One GPU-machine call for the real-models issue: the reference's self-check, the golden files,
# both trainings (run side by side: the models are too small to fill the GPU alone) and the
# reference's quality figures from the saved checkpoints. Run from the repo root there; results
# come back as $OUT/{golden,listops,bytelm}.tgz plus logs; unpack them into tests/golden and models/.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/models-out}
MINUTES=${MINUTES:-3.8}
W=/tmp/chela-models
mkdir -p "$OUT" "$W"
export PYTHONUNBUFFERED=1
python3 tests/reference/chela_ref.py > "$OUT/selfcheck.log" 2>&1; echo "self-check rc=$?"; tail -1 "$OUT/selfcheck.log"
python3 tests/reference/make_golden.py --out "$W/golden" > "$OUT/golden.log" 2>&1; echo "golden rc=$?"; tail -1 "$OUT/golden.log"
tar czf "$OUT/golden.tgz" -C "$W" golden
python3 models/train_listops.py --minutes "$MINUTES" --out "$W/models/listops" > "$OUT/train_listops.log" 2>&1 &
p1=$!
python3 models/train_lm.py --minutes "$MINUTES" --out "$W/models/bytelm" > "$OUT/train_lm.log" 2>&1 &
p2=$!
wait $p1; echo "train_listops rc=$?"; wait $p2; echo "train_lm rc=$?"
tail -2 "$OUT/train_listops.log" "$OUT/train_lm.log"
python3 models/eval_ref.py --models "$W/models" > "$OUT/eval.log" 2>&1; echo "eval rc=$?"; cat "$OUT/eval.log"
tar czf "$OUT/listops.tgz" -C "$W/models" listops
tar czf "$OUT/bytelm.tgz" -C "$W/models" bytelm
ls -la "$OUT"
