"""Where a kernel's instructions go, by barrier-delimited phase, from an Nsight Compute SASS view.

Input: the CSV of `ncu --import R --page source --csv --print-source sass` (tools/device/profile_conv.sh
with SOURCE=1 writes cols_sass.csv). The SASS is cut at every BAR instruction (the kernel's
__syncthreads), so for conv_columns the phases are: column copy, staging, forward stage 1,
forward stage 2, spectrum product, inverse stage 2, inverse stage 1, output. Prints per phase the
executed warp instructions per column, their share, the share of stall samples and the top opcodes.
Run (here, no GPU): python3 tools/device/sass_phases.py cols_sass.csv [columns=4096]
"""
import csv
import sys


def main(path, columns):
    rows = list(csv.reader(open(path)))
    hdr = rows[1]
    data = [r for r in rows[2:] if len(r) >= len(hdr)]
    src, ex, st = hdr.index("Source"), hdr.index("Instructions Executed"), hdr.index("Warp Stall Sampling (All Samples)")
    phases, cur = [], []
    for r in data:
        cur.append(r)
        if r[src].split() and "BAR" in r[src]:
            phases.append(cur)
            cur = []
    phases.append(cur)
    total = sum(int(r[ex]) for r in data)
    stalls = sum(int(r[st]) for r in data) or 1
    print(f"total {total} warp instructions, {total / columns:.0f} per column")
    for k, ph in enumerate(phases):
        e = sum(int(r[ex]) for r in ph)
        if e == 0:
            continue
        ops = {}
        for r in ph:
            words = r[src].split()
            op = words[1] if words[0].startswith("@") else words[0]
            ops[op] = ops.get(op, 0) + int(r[ex])
        top = " ".join(f"{o}:{n / columns:.0f}" for o, n in sorted(ops.items(), key=lambda x: -x[1])[:8])
        print(f"phase {k}: {e / columns:7.0f}/column {100 * e / total:5.1f}%  stalls {100 * sum(int(r[st]) for r in ph) / stalls:5.1f}%  {top}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4096)
