#!/usr/bin/env bash
# The one statement of the layering order (CMakeLists.txt, README and the style
# guide point here). Fails when a src/ folder includes a folder that comes
# after it in the flow:
#   common ← k8s ← discovery ← config ← routing ← balancer ← health ← transport ← grpclb ← xds ← admin ← app   (config validates
#   JAWLB_ENDPOINTS with discovery's BackendSet parser, so discovery comes first)
set -euo pipefail
cd "$(dirname "$0")/.."

order=(common k8s discovery config routing balancer health transport grpclb xds admin app)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && echo "$i" && return; done; echo -1; }

status=0
for file in $(find src -name '*.h' -o -name '*.cc' | sort); do
  folder=$(echo "$file" | cut -d/ -f2)
  [ -d "src/$folder" ] || continue
  mine=$(rank "$folder")
  while IFS= read -r line; do
    included=$(echo "$line" | sed -E 's/#include "([^/"]+)\/.*/\1/')
    [ -d "src/$included" ] || continue
    theirs=$(rank "$included")
    if [ "$theirs" -gt "$mine" ]; then
      echo "layering: $file includes $included/, which comes after $folder/ in the flow"
      status=1
    fi
  done < <(grep -E '^#include "[a-z_]+/' "$file" || true)
done
[ $status -eq 0 ] && echo "layering: ok"
exit $status
