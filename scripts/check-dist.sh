#!/usr/bin/env bash
# Fails when the committed dist/ differs from a fresh `cdk8s synth` (validations included).
# CI runs it; locally, fix a failure with `npm run synth` and commit dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! CDK8S_CHECK_UPGRADE=false npx cdk8s synth --output "$tmp/dist" >"$tmp/synth.log" 2>&1; then
  cat "$tmp/synth.log" >&2
  echo "check-dist: cdk8s synth failed (see above)." >&2
  exit 1
fi

if diff -r -q dist "$tmp/dist" >"$tmp/summary" 2>&1; then
  echo "check-dist: dist/ is up to date ($(ls "$tmp/dist" | wc -l | tr -d ' ') manifest file(s))."
  exit 0
fi

echo "check-dist: dist/ is stale. Run 'npm run synth' and commit dist/." >&2
echo "Files that differ:" >&2
sed "s|$tmp/dist|<fresh synth>|g" "$tmp/summary" >&2
echo "First lines of the diff:" >&2
diff -r -u dist "$tmp/dist" | sed "s|$tmp/dist|<fresh synth>|g" | head -n 60 >&2 || true
exit 1
