#!/usr/bin/env bash
# Run Docker Compose v2 (standalone `docker-compose`) without a Docker engine, for the
# checks that need no daemon (`config`). Uses the installed `docker compose` plugin when
# there is one; otherwise builds the pinned release once from the Go module proxy (this
# machine reaches no other download site) into deploy/native/.cache and runs that.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="v2.40.3"
cache="$root/deploy/native/.cache/compose-$version"
bin="$cache/docker-compose"
if docker compose version >/dev/null 2>&1; then
  exec docker compose "$@"
fi
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "compose-cli: neither docker compose nor go found" >&2; exit 127; }
  echo "building docker compose $version from the Go module proxy (once, cached)" >&2
  mkdir -p "$cache"
  # `go install pkg@version` refuses modules with exclude directives: build it as the main
  # module from a writable copy of the downloaded source instead.
  dir="$(go mod download -json "github.com/docker/compose/v2@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  src="$cache/src"
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  (cd "$src" && go build -buildvcs=false -trimpath \
    -ldflags "-X github.com/docker/compose/v2/internal.Version=$version" -o "$bin.tmp" ./cmd) >&2
  mv "$bin.tmp" "$bin"
  rm -rf "$src"
fi
exec "$bin" "$@"
