#!/usr/bin/env bash
# Real engines as plain processes on loopback, for Canteen's integration tests
# (no Docker here). See docs/engines.md.
#
#   engines.sh up     [kafka|opensearch|ferretdb ...]   provision (cached), start, wait until they answer
#   engines.sh down   [kafka|opensearch|ferretdb ...]   stop what this script started (pid files)
#   engines.sh status                                   one line per engine
#   engines.sh env                                      `export` lines with the addresses
#
# Fixed addresses (other code relies on them):
#   Kafka      127.0.0.1:19092 (KRaft controller 127.0.0.1:19093)
#   FerretDB   mongodb://127.0.0.1:27018/
#   OpenSearch http://127.0.0.1:19200
#
# Caches: deploy/native/.cache/ (+ ~/.m2, ~/go/pkg/mod). Data, logs, pid files: var/engines/<engine>/.
# Tunables (env): CANTEEN_ENGINES_START_TIMEOUT (s, default 240), CANTEEN_ENGINES_STOP_TIMEOUT
# (s, default 40), CANTEEN_JAVA17_HOME (a JDK 17..21; default: found under /usr/lib/jvm or PATH).
# A second, private set of engines (the fault-injection tests stop and start their own, never
# the shared ones): CANTEEN_ENGINES_VAR (data, logs, pid files, engines.env),
# CANTEEN_ENGINES_KAFKA_PORT (controller on port+1), CANTEEN_ENGINES_FERRETDB_PORT,
# CANTEEN_ENGINES_OPENSEARCH_PORT (transport on one of port+100..port+199),
# CANTEEN_ENGINES_OPENSEARCH_CLUSTER, and CANTEEN_ENGINES_KAFKA_KEEP_LOG=1: a restart keeps the
# topics, as a real broker restart must not lose what it had acknowledged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$HERE/.cache"
VAR="${CANTEEN_ENGINES_VAR:-$ROOT/var/engines}"
ALL_ENGINES=(kafka opensearch ferretdb)

KAFKA_PORT="${CANTEEN_ENGINES_KAFKA_PORT:-19092}"
KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT}"
KAFKA_CONTROLLER="127.0.0.1:$((KAFKA_PORT + 1))"
KAFKA_KEEP_LOG="${CANTEEN_ENGINES_KAFKA_KEEP_LOG:-0}"
OS_PORT="${CANTEEN_ENGINES_OPENSEARCH_PORT:-19200}"
OS_URL="http://127.0.0.1:${OS_PORT}"
OS_TRANSPORT_PORTS="$((OS_PORT + 100))-$((OS_PORT + 199))"
OS_CLUSTER="${CANTEEN_ENGINES_OPENSEARCH_CLUSTER:-canteen-test}"
FDB_ADDR="127.0.0.1:${CANTEEN_ENGINES_FERRETDB_PORT:-27018}"
FDB_URI="mongodb://${FDB_ADDR}/"

START_TIMEOUT="${CANTEEN_ENGINES_START_TIMEOUT:-240}"
STOP_TIMEOUT="${CANTEEN_ENGINES_STOP_TIMEOUT:-40}"
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
TAIL_LINES=60

ENGINE=engines # prefix of messages; set per engine in the workers

say() { printf '[%s %s] %s\n' "$ENGINE" "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- helpers

fingerprint() { # files... -> short hash of their contents
  cat "$@" | sha256sum | cut -c1-16
}

port_open() { # port -> 0 when something accepts on 127.0.0.1:port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

engine_port() {
  case "$1" in
    kafka) echo "$KAFKA_PORT" ;;
    opensearch) echo "$OS_PORT" ;;
    ferretdb) echo "${FDB_ADDR##*:}" ;;
  esac
}

engine_addr() {
  case "$1" in
    kafka) echo "$KAFKA_BOOTSTRAP" ;;
    opensearch) echo "$OS_URL" ;;
    ferretdb) echo "$FDB_URI" ;;
  esac
}

pid_file() { echo "$VAR/$1/$1.pid"; }
log_file() { echo "$VAR/$1/$1.log"; }

marker() { # a string that only our process of that engine has in its command line
  case "$1" in
    kafka | opensearch) echo "-Dcanteen.engine=$1" ;;
    ferretdb) echo "canteen-ferretdb serve" ;;
  esac
}

read_pid() { # engine -> pid of our live process, or nothing
  local f pid
  f="$(pid_file "$1")"
  [[ -s $f ]] || return 0
  pid="$(tr -dc 0-9 <"$f")"
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(marker "$1")"; then
    echo "$pid"
  fi
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

show_tail() { # file [title]
  local f=$1
  if [[ -s $f ]]; then
    {
      printf -- '----- last %s lines of %s -----\n' "$TAIL_LINES" "$f"
      tail -n "$TAIL_LINES" "$f"
      printf -- '----- end of %s -----\n' "$f"
    } >&2
  else
    say "(log $f is empty or missing)"
  fi
}

JAVA="" JAVAC=""
find_java17() { # OpenSearch 2.x needs the security manager classes: JDK 17..21, never 24+
  [[ -n $JAVA ]] && return 0
  local c v
  for c in ${CANTEEN_JAVA17_HOME:+"$CANTEEN_JAVA17_HOME/bin/java"} \
    /usr/lib/jvm/java-17-openjdk-amd64/bin/java /usr/lib/jvm/java-17-openjdk*/bin/java \
    /usr/lib/jvm/temurin-17*/bin/java /usr/lib/jvm/java-21-openjdk*/bin/java \
    "$(command -v java || true)"; do
    [[ -n $c && -x $c && -x ${c%/java}/javac ]] || continue
    v="$("$c" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ $v =~ ^[0-9]+$ ]] && ((v >= 17 && v <= 21)); then
      JAVA=$c
      JAVAC=${c%/java}/javac
      return 0
    fi
  done
  die "no JDK 17..21 (java + javac) found; set CANTEEN_JAVA17_HOME"
}

maven_copy_deps() { # pom outdir -- serialized: parallel Maven runs share ~/.m2
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$CACHE"
  flock "$CACHE/.maven.lock" \
    mvn -B -q -f "$1" "$DEP_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$2"
}

# ---------------------------------------------------------------- provisioning

provision_java_engine() { # engine main-source-file
  local e=$1 src=$2 dir="$CACHE/$1" want plog
  want="$(fingerprint "$HERE/$e/pom.xml" "$src")-$(basename "$JAVA")"
  if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$want" ]]; then
    return 0
  fi
  plog="$VAR/$e/provision.log"
  say "provisioning: resolving $HERE/$e/pom.xml into $dir (Maven) ..."
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp/libs" "$dir.tmp/classes"
  if ! maven_copy_deps "$HERE/$e/pom.xml" "$dir.tmp/libs" >"$plog" 2>&1 ||
    ! "$JAVAC" -nowarn -d "$dir.tmp/classes" -cp "$dir.tmp/libs/*" "$src" >>"$plog" 2>&1; then
    show_tail "$plog"
    die "provisioning failed (see $plog)"
  fi
  echo "$want" >"$dir.tmp/.stamp"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  say "provisioned: $(find "$dir/libs" -name '*.jar' | wc -l) jars, $(du -sh "$dir" | cut -f1)"
}

FDB_BIN="$CACHE/bin/canteen-ferretdb"
# The wrapper module built against a copy of FerretDB v1.24.2 with six patches: id-index.sed
# (a bug: {_id} lookups missed their index), pushdown.sed + pushdown.go.in (string
# equalities reach SQLite's indexes as a superset WHERE), sortlimit.sed + findlimit.sed +
# sort-contract.sed
# (a find's sort and limit reach SQLite when its filter translates exactly), update-cursor.sed (a bug: a bulk
# update of over 100 statements hung) and debug-log.sed (no debug loggers built at warn
# level); and a copy of its SQLite driver, modernc.org/sqlite v1.32.0, with stmtcache.sed +
# stmtcache.go.in (each connection keeps its prepared statements); see docs/engines.md.
# The copies are used through `replace`s in the build copy's go.mod; the checked-in go.mod
# is untouched.
patch_go() { # sed-script count text files... -> apply it; fail unless `text` is then on `count` lines
  local script=$1 count=$2 text=$3
  shift 3
  sed -i -f "$script" "$@"
  if [[ $(cat "$@" | grep -cF -- "$text") != "$count" ]]; then
    echo "$(basename "$script") did not apply to $* (FerretDB version changed?)"
    return 1
  fi
}
build_ferretdb() { # wrapper-src build-dir -> $FDB_BIN.tmp
  local src=$1 build=$2 module
  module="$(cd "$src" && go mod download -json github.com/FerretDB/FerretDB >/dev/null &&
    go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)" || return 1
  rm -rf "$build" && mkdir -p "$build/wrapper"
  # The module cache is read-only; the copy must be writable (for sed, and for non-root).
  cp -R --no-preserve=mode "$module" "$build/ferretdb" && chmod -R u+w "$build/ferretdb"
  local pkg="$build/ferretdb/internal"
  patch_go "$src/id-index.sed" 1 'IDColumn = DefaultColumn + `->"_id"`' \
    "$pkg/backends/sqlite/metadata/metadata.go" || return 1
  cp "$src/pushdown.go.in" "$pkg/backends/sqlite/pushdown.go"
  patch_go "$src/pushdown.sed" 2 'whereClause, args = pushdownWhere(params.Filter); if false {' \
    "$pkg/backends/sqlite/collection.go" || return 1
  cp "$src/sortlimit.go.in" "$pkg/backends/sqlite/sortlimit.go"
  patch_go "$src/sortlimit.sed" 1 'q = pushdownQuery(q, params, meta.TableName, meta.Capped()' \
    "$pkg/backends/sqlite/collection.go" || return 1
  cp "$src/findlimit.go.in" "$pkg/handler/findlimit.go"
  patch_go "$src/sort-contract.sed" 2 'if params.Sort.Len() != 0 && params.Sort.Has("$natural") {' \
    "$pkg/backends/collection.go" || return 1
  patch_go "$src/findlimit.sed" 1 'canteenSortLimit(qp, params.Filter, params.Sort, params.Limit, params.Skip) {' \
    "$pkg/handler/msg_find.go" || return 1
  patch_go "$src/update-cursor.sed" 1 '&u); closer.Close()' "$pkg/handler/msg_update.go" || return 1
  patch_go "$src/no-tracking.sed" 2 'if canteenNoTracking { return }' \
    "$pkg/util/resource/resource.go" || return 1
  patch_go "$src/debug-log.sed" 12 'l.Enabled(ctx, slog.LevelDebug) {' \
    "$pkg/util/fsql/db.go" "$pkg/util/fsql/tx.go" || return 1
  # The SQLite driver too: a per-connection prepared-statement cache (stmtcache.go.in).
  local driver
  driver="$(cd "$src" && go mod download -json modernc.org/sqlite >/dev/null &&
    go list -m -f '{{.Dir}}' modernc.org/sqlite)" || return 1
  cp -R --no-preserve=mode "$driver" "$build/sqlite" && chmod -R u+w "$build/sqlite"
  cp "$src/stmtcache.go.in" "$build/sqlite/canteen_stmtcache.go"
  patch_go "$src/stmtcache.sed" 4 '// canteen-stmtcache' "$build/sqlite/sqlite.go" || return 1
  # And its C library: memcmp compares words at a time (memcmp.go.in).
  local libc
  libc="$(cd "$src" && go mod download -json modernc.org/libc >/dev/null &&
    go list -m -f '{{.Dir}}' modernc.org/libc)" || return 1
  cp -R --no-preserve=mode "$libc" "$build/libc" && chmod -R u+w "$build/libc"
  cp "$src/memcmp.go.in" "$build/libc/canteen_memcmp.go"
  patch_go "$src/memcmp.sed" 3 '// canteen-memcmp' "$build/libc/ccgo_linux_amd64.go" \
    "$build/libc/ccgo_linux_arm64.go" "$build/libc/ccgo_linux_loong64.go" || return 1
  cp "$src/main.go" "$src/go.mod" "$src/go.sum" "$build/wrapper/"
  (cd "$build/wrapper" &&
    go mod edit -replace "github.com/FerretDB/FerretDB=$build/ferretdb" &&
    go mod edit -replace "modernc.org/sqlite=$build/sqlite" &&
    go mod edit -replace "modernc.org/libc=$build/libc" &&
    go build -buildvcs=false -trimpath -o "$FDB_BIN.tmp" .)
}
provision_ferretdb() {
  local src="$HERE/ferretdb" want plog
  want="$(fingerprint "$src/main.go" "$src/go.mod" "$src/go.sum" "$src/id-index.sed" \
    "$src/pushdown.sed" "$src/pushdown.go.in" "$src/sortlimit.sed" "$src/sortlimit.go.in" \
    "$src/findlimit.sed" "$src/findlimit.go.in" "$src/sort-contract.sed" "$src/update-cursor.sed" "$src/debug-log.sed" \
    "$src/no-tracking.sed" "$src/stmtcache.sed" "$src/stmtcache.go.in" "$src/memcmp.sed" "$src/memcmp.go.in")"
  if [[ -x $FDB_BIN && -f $FDB_BIN.stamp && $(cat "$FDB_BIN.stamp") == "$want" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go not found"
  plog="$VAR/ferretdb/provision.log"
  say "provisioning: go build $src (FerretDB patched: id-index.sed, pushdown.sed, sortlimit.sed, findlimit.sed, sort-contract.sed, update-cursor.sed, debug-log.sed, no-tracking.sed; modernc.org/sqlite: stmtcache.sed; modernc.org/libc: memcmp.sed) -> $FDB_BIN (a minute or two cold) ..."
  mkdir -p "$CACHE/bin" "$VAR/ferretdb"
  if ! build_ferretdb "$src" "$CACHE/build/ferretdb" >"$plog" 2>&1; then
    show_tail "$plog"
    die "go build failed (see $plog)"
  fi
  mv "$FDB_BIN.tmp" "$FDB_BIN"
  echo "$want" >"$FDB_BIN.stamp"
  say "provisioned: $FDB_BIN"
}

# ---------------------------------------------------------------- start

launch() { # engine cmd... -> starts it in its own session, writes the pid file
  local e=$1 logf pid
  shift
  logf="$(log_file "$e")"
  [[ -f $logf ]] && mv -f "$logf" "$logf.1"
  # setsid: own session/process group, immune to the caller's job control and SIGHUP;
  # the job is not a group leader, so setsid execs without forking and $! is the engine's pid.
  # 9>&-: the engine must not inherit the per-engine lock fd (it would hold the lock forever).
  setsid nohup "$@" >>"$logf" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$(pid_file "$e")"
  say "started pid $pid (log $logf)"
}

start_kafka() {
  local d="$VAR/kafka" cp="$CACHE/kafka/libs/*:$CACHE/kafka/classes" props
  props="$d/server.properties"
  mkdir -p "$d/data"
  cat >"$props" <<EOF
# generated by deploy/native/engines.sh -- single combined KRaft broker+controller
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_CONTROLLER}
listeners=PLAINTEXT://${KAFKA_BOOTSTRAP},CONTROLLER://${KAFKA_CONTROLLER}
advertised.listeners=PLAINTEXT://${KAFKA_BOOTSTRAP}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${d}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
# Small per-partition index files: thousands of short-lived test partitions are mapped.
log.index.size.max.bytes=1048576
EOF
  # Every external test gets its own topics (CANTEEN_BUS_NAMESPACE): thousands of partitions
  # per run. 512m of heap ran out (OOM) once a few runs had accumulated; and the topics of
  # finished runs are worth nothing, so a (re)start begins with an empty log -- unless the
  # caller restarts a broker on purpose and checks that nothing acknowledged was lost.
  if [[ $KAFKA_KEEP_LOG != 1 ]]; then
    rm -rf "$d/data" && mkdir -p "$d/data"
  fi
  local jvm=(-Dcanteen.engine=kafka -Xms1g -Xmx2g -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true -Dfile.encoding=UTF-8
    "-Dlog4j2.configurationFile=file:$HERE/kafka/log4j2.properties"
    "-Dkafka.logs.dir=$d" "-Djava.io.tmpdir=$d/tmp")
  mkdir -p "$d/tmp"
  if [[ ! -f $d/data/meta.properties ]]; then
    [[ -s $d/cluster.id ]] ||
      "$JAVA" -cp "$cp" kafka.tools.StorageTool random-uuid 2>>"$d/format.log" | tail -n1 >"$d/cluster.id"
    [[ -s $d/cluster.id ]] || { show_tail "$d/format.log"; die "StorageTool random-uuid failed"; }
    say "formatting KRaft storage (cluster id $(cat "$d/cluster.id"))"
    # static controller.quorum.voters -> format WITHOUT --standalone
    if ! "$JAVA" "${jvm[@]:1}" -cp "$cp" kafka.tools.StorageTool format \
      -t "$(cat "$d/cluster.id")" -c "$props" --ignore-formatted >>"$d/format.log" 2>&1; then
      show_tail "$d/format.log"
      die "kafka storage format failed"
    fi
  fi
  launch kafka "$JAVA" "${jvm[@]}" -cp "$cp" kafka.Kafka "$props"
}

start_opensearch() {
  local d="$VAR/opensearch" cp="$CACHE/opensearch/libs/*:$CACHE/opensearch/classes"
  mkdir -p "$d/config" "$d/data" "$d/logs" "$d/tmp"
  cp "$HERE/opensearch/log4j2.properties" "$d/config/log4j2.properties"
  cat >"$d/config/opensearch.yml" <<EOF
# generated by deploy/native/engines.sh -- the runner adds cluster.name, node.name,
# http.port (-baseHttpPort + 1), path.*, node.roles on top of this file.
network.host: 127.0.0.1
discovery.type: single-node
transport.port: ${OS_TRANSPORT_PORTS}
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
EOF
  launch opensearch "$JAVA" -Dcanteen.engine=opensearch -Xms512m -Xmx1g -XX:+UseG1GC \
    -XX:-OmitStackTraceInFastThrow -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Djna.nosys=true -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
    -Dio.netty.recycler.maxCapacityPerThread=0 -Dlog4j.shutdownHookEnabled=false \
    -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true "-Djava.io.tmpdir=$d/tmp" \
    -cp "$cp" CanteenOpenSearch \
    -basePath "$d/home" -confPath "$d/config" -dataPath "$d/data" -logsPath "$d/logs" \
    -numOfNode 1 -baseHttpPort $((OS_PORT - 1)) -clusterName "$OS_CLUSTER" -printOnFailure
}

start_ferretdb() {
  local d="$VAR/ferretdb"
  mkdir -p "$d/data"
  launch ferretdb "$FDB_BIN" serve -listen "$FDB_ADDR" -sqlite-dir "$d/data" -log-level warn
}

# ---------------------------------------------------------------- readiness

wait_kafka() { # pid timeout
  find_java17
  [[ -d $CACHE/kafka/classes ]] || return 1
  "$JAVA" -Xmx128m -cp "$CACHE/kafka/libs/*:$CACHE/kafka/classes" KafkaReady "$KAFKA_BOOTSTRAP" "$2" "$1" >&2
}

os_get() { curl -fsS --max-time "${2:-10}" "$OS_URL$1"; }

wait_opensearch() { # pid timeout
  local deadline=$((SECONDS + $2)) out
  while :; do
    pid_alive "$1" || { say "process $1 is gone"; return 1; }
    if out="$(os_get '/_cluster/health?wait_for_status=yellow&timeout=5s' 10 2>/dev/null)" &&
      [[ $out == *'"status":"green"'* || $out == *'"status":"yellow"'* ]]; then
      # is it really ours (the runner could have taken another port, something else 19200)?
      if ! [[ $out == *"\"cluster_name\":\"$OS_CLUSTER\""* ]]; then
        say "something else answers on $OS_URL: $out"
        return 1
      fi
      return 0
    fi
    ((SECONDS < deadline)) || { say "timed out; last answer: ${out:-none}"; return 1; }
    sleep 1
  done
}

wait_ferretdb() { # pid timeout
  local deadline=$((SECONDS + $2)) out=""
  while :; do
    pid_alive "$1" || { say "process $1 is gone"; return 1; }
    if out="$("$FDB_BIN" ping -addr "$FDB_ADDR" -timeout 2s 2>&1)"; then
      return 0
    fi
    ((SECONDS < deadline)) || { say "timed out; last ping: $out"; return 1; }
    sleep 0.3
  done
}

selfcheck_opensearch() { # modules loaded + the analysis chain the app uses can be created
  local plugins cls idx="canteen-selfcheck-$$" out
  plugins="$(os_get '/_nodes/_local/plugins?filter_path=nodes.*.plugins.classname' 10)" || return 1
  for cls in org.opensearch.analysis.common.CommonAnalysisPlugin org.opensearch.painless.PainlessPlugin \
    org.opensearch.index.mapper.MapperExtrasPlugin org.opensearch.index.reindex.ReindexPlugin \
    org.opensearch.transport.Netty4Plugin; do
    [[ $plugins == *"$cls"* ]] || { say "selfcheck: module $cls NOT loaded: $plugins"; return 1; }
  done
  if ! out="$(curl -sS --max-time 30 -XPUT "$OS_URL/$idx" -H 'Content-Type: application/json' -d '{
    "settings": {"number_of_shards": 1, "number_of_replicas": 0, "analysis": {
      "tokenizer": {"edge": {"type": "edge_ngram", "min_gram": 2, "max_gram": 10, "token_chars": ["letter", "digit"]}},
      "filter": {"syn": {"type": "synonym_graph", "synonyms": ["lunch, dinner"]},
                 "stem": {"type": "stemmer", "language": "english"}},
      "analyzer": {
        "autocomplete": {"type": "custom", "tokenizer": "edge", "filter": ["lowercase", "asciifolding"]},
        "search_syn": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding", "syn", "stem"]}}}},
    "mappings": {"properties": {
      "title": {"type": "text", "analyzer": "autocomplete", "search_analyzer": "search_syn"},
      "price": {"type": "scaled_float", "scaling_factor": 100}}}}')" ||
    [[ $out != *'"acknowledged":true'* ]]; then
    say "selfcheck: index with edge_ngram/asciifolding/stemmer/synonym_graph NOT created: $out"
    return 1
  fi
  out="$(curl -sS --max-time 10 -XPOST "$OS_URL/$idx/_analyze" -H 'Content-Type: application/json' \
    -d '{"analyzer": "autocomplete", "text": "Café"}')" || true
  curl -sS --max-time 30 -XDELETE "$OS_URL/$idx" >/dev/null || true
  [[ $out == *'"cafe"'* ]] || { say "selfcheck: autocomplete analyzer gave $out"; return 1; }
  out="$(curl -sS --max-time 10 -XPOST "$OS_URL/_scripts/painless/_execute" -H 'Content-Type: application/json' \
    -d '{"script": {"source": "params.a + 1", "params": {"a": 41}}}')" || true
  [[ $out == *'"result":"42"'* ]] || { say "selfcheck: painless gave $out"; return 1; }
  say "selfcheck ok: analysis-common, painless, mapper-extras, reindex, netty4 loaded; analyzers work"
}

# ---------------------------------------------------------------- up / down / status

lock_engine() { # one up/down at a time per engine (fd 9, released when the worker exits)
  exec 9>"$VAR/$1/.lock"
  flock -w $((START_TIMEOUT + 600)) 9 || die "another engines.sh holds $VAR/$1/.lock"
}

up_one() { # runs in a background worker, one per engine
  local e=$1 pid t0=$SECONDS port
  ENGINE=$e
  mkdir -p "$VAR/$e"
  lock_engine "$e"

  pid="$(read_pid "$e")"
  if [[ -n $pid ]]; then
    say "already running (pid $pid); checking it answers ..."
    if "wait_$e" "$pid" "$START_TIMEOUT"; then
      say "up (already running, pid $pid) at $(engine_addr "$e")"
      return 0
    fi
    show_tail "$(log_file "$e")"
    die "pid $pid is running but does not answer at $(engine_addr "$e"); try: $0 down $e && $0 up $e"
  fi
  rm -f "$(pid_file "$e")"

  port="$(engine_port "$e")"
  if port_open "$port"; then
    die "port 127.0.0.1:$port is already in use by a process engines.sh did not start ($(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:.*' | head -n1 || true)); stop it first"
  fi
  if [[ $e == kafka ]] && port_open "${KAFKA_CONTROLLER##*:}"; then
    die "port $KAFKA_CONTROLLER (Kafka controller) is already in use; stop that process first"
  fi

  case "$e" in
    kafka) find_java17 && provision_java_engine kafka "$HERE/kafka/KafkaReady.java" ;;
    opensearch) find_java17 && provision_java_engine opensearch "$HERE/opensearch/CanteenOpenSearch.java" ;;
    ferretdb) provision_ferretdb ;;
  esac
  local t1=$SECONDS
  "start_$e"
  # The pid file is written at once, but the process is setsid/nohup until it execs the
  # engine (its marker is in the cmdline only then): give a loaded machine a few seconds.
  local until_exec=$((SECONDS + 10))
  pid="$(read_pid "$e")"
  while [[ -z $pid ]] && ((SECONDS < until_exec)); do
    sleep 0.2
    pid="$(read_pid "$e")"
  done
  [[ -n $pid ]] || { show_tail "$(log_file "$e")"; die "process did not start"; }

  if ! "wait_$e" "$pid" "$START_TIMEOUT"; then
    show_tail "$(log_file "$e")"
    stop_pid "$e" "$pid" || true
    die "$e did not become ready within ${START_TIMEOUT}s (stopped it); log: $(log_file "$e")"
  fi
  if [[ $e == opensearch ]] && ! selfcheck_opensearch; then
    show_tail "$(log_file "$e")"
    stop_pid "$e" "$pid" || true
    die "opensearch self-check failed (stopped it); log: $(log_file "$e")"
  fi
  say "up at $(engine_addr "$e") (pid $pid; provisioning $((t1 - t0))s, start-up $((SECONDS - t1))s)"
}

stop_pid() { # engine pid
  local e=$1 pid=$2 deadline=$((SECONDS + STOP_TIMEOUT))
  say "stopping pid $pid (SIGTERM, up to ${STOP_TIMEOUT}s) ..."
  kill -TERM "$pid" 2>/dev/null || true
  while pid_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      say "still alive after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$(pid_file "$e")"
}

down_one() {
  local e=$1 pid
  ENGINE=$e
  mkdir -p "$VAR/$e"
  lock_engine "$e"
  pid="$(read_pid "$e")"
  if [[ -z $pid ]]; then
    rm -f "$(pid_file "$e")"
    if port_open "$(engine_port "$e")"; then
      say "not started by engines.sh, but port $(engine_port "$e") is in use by another process (left alone)"
    else
      say "already down"
    fi
    return 0
  fi
  stop_pid "$e" "$pid"
  say "down"
}

engine_state() { # engine -> "up <pid>" | "starting <pid>" | "down -"
  local e=$1 pid
  pid="$(read_pid "$e")"
  if [[ -z $pid ]]; then
    echo "down -"
  elif port_open "$(engine_port "$e")"; then
    echo "up $pid"
  else
    echo "starting $pid"
  fi
}

cmd_status() {
  local e st
  for e in "${ALL_ENGINES[@]}"; do
    read -r st pid <<<"$(engine_state "$e")"
    printf '%-10s  %-8s  pid=%-8s  %s\n' "$e" "$st" "$pid" "$(engine_addr "$e")"
  done
}

env_line() {
  case "$1" in
    kafka) echo "CANTEEN_TEST_KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP" ;;
    ferretdb) echo "CANTEEN_TEST_MONGODB_URI=$FDB_URI" ;;
    opensearch) echo "CANTEEN_TEST_OPENSEARCH_URL=$OS_URL" ;;
  esac
}

cmd_env() {
  local e
  for e in kafka ferretdb opensearch; do echo "export $(env_line "$e")"; done
}

write_env_file() { # lines for the engines that are up now
  local e st lines=""
  for e in kafka ferretdb opensearch; do
    read -r st _ <<<"$(engine_state "$e")"
    [[ $st == up ]] && lines+="$(env_line "$e")"$'\n'
  done
  mkdir -p "$VAR"
  if [[ -n $lines ]]; then
    printf '%s' "$lines" >"$VAR/engines.env.tmp"
    mv "$VAR/engines.env.tmp" "$VAR/engines.env"
  else
    rm -f "$VAR/engines.env"
  fi
}

parse_engines() { # args -> ENGINES_SEL
  ENGINES_SEL=()
  local a
  if (($# == 0)); then
    ENGINES_SEL=("${ALL_ENGINES[@]}")
    return
  fi
  for a in "$@"; do
    case "$a" in
      kafka | opensearch | ferretdb) ENGINES_SEL+=("$a") ;;
      all) ENGINES_SEL=("${ALL_ENGINES[@]}") ;;
      *) die "unknown engine '$a' (kafka, opensearch, ferretdb)" ;;
    esac
  done
}

run_parallel() { # up_one|down_one engines...
  local fn=$1 e rc=0 t0=$SECONDS
  shift
  local -A pids=()
  for e in "$@"; do
    "$fn" "$e" &
    pids[$e]=$!
  done
  local failed=()
  for e in "$@"; do
    wait "${pids[$e]}" || failed+=("$e")
  done
  if ((${#failed[@]})); then
    rc=1
    ENGINE=engines
    say "FAILED: ${failed[*]} (${fn%_one} took $((SECONDS - t0))s)"
  else
    ENGINE=engines
    say "${fn%_one}: ${*} ok in $((SECONDS - t0))s"
  fi
  return "$rc"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case "$cmd" in
    up)
      parse_engines "$@"
      mkdir -p "$VAR" "$CACHE"
      local rc=0
      run_parallel up_one "${ENGINES_SEL[@]}" || rc=$?
      write_env_file
      if ((rc == 0)); then
        ENGINE=engines
        say "wrote $VAR/engines.env"
      fi
      return "$rc"
      ;;
    down)
      parse_engines "$@"
      run_parallel down_one "${ENGINES_SEL[@]}"
      write_env_file
      ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help | "") usage ;;
    *) die "unknown command '$cmd' (up, down, status, env)" ;;
  esac
}

main "$@"
