# Shared by the bench scripts: a release build and the services, and one measured run of a command.
# Source it from a script in bench/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/install-deps
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
meson compile -C build-release >/dev/null
scripts/services up
eval "$(scripts/services env)"

# measure LABEL MIB COMMAND...: one line of wall seconds, CPU seconds (user+sys, children included),
# peak RSS and throughput for MIB mebibytes. The command's stdout is discarded.
measure() {
  local label=$1 mib=$2; shift 2
  local out; out=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$out" "$@" >/dev/null
  read -r wall user sys rss <"$out"; rm -f "$out"
  printf '%-30s wall %6.2f s   cpu %6.2f s   rss %5d MiB   %6.0f MiB/s\n' \
    "$label" "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024)) "$(echo "$mib / $wall" | bc -l)"
}
