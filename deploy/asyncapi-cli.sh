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
export ASYNCAPI_TELEMETRY=false NO_UPDATE_NOTIFIER=1
exec "$bin" "$@"
