#!/usr/bin/env bash
# The soak (not in CI): jawlb for MINUTES (default 60) under churning clients,
# a backend change a second, an API server fault a minute, never-reading
# streams and scrapes (bench/soak.cc says what each is). Writes
# docs/soak/summary.txt and samples.csv, and plots jawlb's RSS, descriptors and
# threads over time into docs/soak.png. Exits non-zero if any client got an
# empty or short list, a change never arrived, or jawlb did not exit cleanly.
#
#   scripts/soak.sh [MINUTES [soak flags...]]    e.g. scripts/soak.sh 60 --clients=2000
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-60}
shift || true
./scripts/install-deps.sh
# The plot's one extra package.
if ! /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-matplotlib >/dev/null
fi

cmake -S . -B build-soak -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJAWLB_BUILD_SOAK=ON >/dev/null
cmake --build build-soak --target soak

mkdir -p docs/soak
status=0
./build-soak/soak --minutes="$minutes" --out=docs/soak "$@" || status=$?

/usr/bin/python3 - docs/soak/samples.csv docs/soak.png "$minutes" <<'PY'
import csv, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.DictReader(open(sys.argv[1])))
t = [float(r["seconds"]) / 60 for r in rows]
fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
for ax, key, label in zip(axes, ["rss_kib", "descriptors", "threads"],
                          ["RSS (MiB)", "open descriptors", "threads"]):
    values = [float(r[key]) / (1024 if key == "rss_kib" else 1) for r in rows]
    ax.plot(t, values)
    ax.set_ylabel(label)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
axes[-1].set_xlabel("minutes")
axes[0].set_title(f"jawlb under soak ({sys.argv[3]} min): sampled every 10 s")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
PY
echo "soak: docs/soak/summary.txt, docs/soak.png"
exit "$status"
