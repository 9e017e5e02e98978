#!/usr/bin/env bash
# One step of `make`'s setup, said out loud:
#   scripts/step.sh "[3/4]" "compiling agora_token._pack" COMMAND...
# prints "==> [3/4] compiling agora_token._pack", runs COMMAND with its output
# as it is, prints "    still compiling agora_token._pack... 10 s" every 10 s
# while it runs and "    done (17 s)" after, so a long step never looks hung.
# Exits with COMMAND's status.
set -uo pipefail

tag=$1 what=$2
shift 2
echo "==> ${tag:+$tag }$what"
start=$SECONDS
(
  # sleep's output goes nowhere: once this ticker is killed, a sleep still
  # running must not hold a pipe that `make ... | tee` waits on
  while sleep 10 </dev/null >/dev/null 2>&1; do
    echo "    still $what... $((SECONDS - start)) s"
  done
) &
ticker=$!
"$@"
status=$?
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
if [ "$status" -eq 0 ]; then
  echo "    done ($((SECONDS - start)) s)"
else
  echo "    FAILED ($what): exit status $status, the output above says why" >&2
fi
exit "$status"
