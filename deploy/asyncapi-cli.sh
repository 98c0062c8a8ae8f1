#!/usr/bin/env bash
# Run the AsyncAPI CLI from a pinned, cached npm install (deploy/native/.cache/asyncapi).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="6.2.0"
prefix="$root/deploy/native/.cache/asyncapi-$version"
bin="$prefix/node_modules/.bin/asyncapi"
if [ ! -x "$bin" ]; then
  echo "installing @asyncapi/cli@$version (once, cached under deploy/native/.cache)"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "@asyncapi/cli@$version" >/dev/null
fi
export NO_UPDATE_NOTIFIER=1 SUPPRESS_NO_CONFIG_WARNING=1
# The CLI phones home by default; this machine (and CI) must not.
"$bin" config analytics --disable >/dev/null 2>&1 || true
exec "$bin" "$@"
