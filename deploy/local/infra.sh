#!/usr/bin/env bash
# Local infrastructure for Herald: Apache Kafka (KRaft), Redis and PostgreSQL on 127.0.0.1.
#
#   infra.sh up     [kafka|redis|postgres ...]   start (installing what is missing); idempotent
#   infra.sh down   [kafka|redis|postgres ...]   stop
#   infra.sh status                              one line per component; exit 1 if any is down
#
# Native route (default without a Docker engine): Kafka jars from Maven Central (kafka/pom.xml)
# run with java; redis-server and PostgreSQL from the OS packages. Docker route
# (HERALD_INFRA=docker, or auto when a Docker engine answers): compose.yaml.
# State lives under $HERALD_STATE_DIR (default: <repo>/.herald).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${HERALD_STATE_DIR:-$ROOT/.herald}
KAFKA_PORT=${HERALD_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${HERALD_KAFKA_CONTROLLER_PORT:-19093}
REDIS_PORT=${HERALD_REDIS_PORT:-63790}
PG_PORT=${HERALD_PG_PORT:-54329}
PG_USER=herald
PG_PASSWORD=herald
PG_DB=herald
READY_TIMEOUT_S=${HERALD_INFRA_TIMEOUT_S:-90}
COMPONENTS=(postgres redis kafka)

say() { printf '%s\n' "$*"; }
fail() { printf 'infra: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for NAME LOG CHECK...: poll CHECK until it succeeds or the timeout passes.
wait_for() {
  local name=$1 log=$2; shift 2
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "$name did not become ready within ${READY_TIMEOUT_S}s; see its log: $log"
    fi
    sleep 0.2
  done
}

as_root_or_sudo() {
  if [[ $(id -u) == 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null || return 1
  say "  installing $* from the OS packages"
  export DEBIAN_FRONTEND=noninteractive
  as_root_or_sudo apt-get update -qq >/dev/null &&
    as_root_or_sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
pg_bindir() {
  if [[ -n ${HERALD_PG_BINDIR:-} ]]; then echo "$HERALD_PG_BINDIR"; return; fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  if [[ -n $dir ]]; then echo "$dir"; return; fi
  command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)"
}

# Run a PostgreSQL program as the cluster owner (root may not own a cluster).
pg_run() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_ready() { PGPASSWORD=$PG_PASSWORD "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB"; }

postgres_up() {
  local bin dir=$STATE/postgres log=$STATE/postgres.log
  bin=$(pg_bindir) || true
  if [[ -z $bin || ! -x $bin/initdb ]]; then
    apt_install postgresql || fail "PostgreSQL is not installed (install the 'postgresql' package, or set HERALD_PG_BINDIR)"
    bin=$(pg_bindir)
  fi
  if postgres_ready; then say "  postgres already running on 127.0.0.1:$PG_PORT"; return; fi
  if [[ ! -f $dir/PG_VERSION ]]; then
    say "  initialising a PostgreSQL cluster in $dir"
    mkdir -p "$dir"
    if [[ $(id -u) == 0 ]]; then
      # The postgres user must be able to reach the cluster folder (a clone may sit in a 0700 dir).
      local up=$STATE
      while [[ $up != / ]]; do
        if ! runuser -u postgres -- test -x "$up"; then chmod o+x "$up"; fi
        up=$(dirname "$up")
      done
    fi
    local pwfile=$STATE/.pgpass.tmp
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    if [[ $(id -u) == 0 ]]; then chown postgres: "$dir" "$pwfile"; fi
    pg_run "$bin/initdb" -D "$dir" -U "$PG_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$log" 2>&1 ||
      { rm -f "$pwfile"; fail "initdb failed; see $log"; }
    rm -f "$pwfile"
  fi
  touch "$log"
  if [[ $(id -u) == 0 ]]; then chown postgres: "$log"; fi
  pg_run "$bin/pg_ctl" -D "$dir" -l "$log" -w -t "$READY_TIMEOUT_S" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$dir' -c max_connections=200 -c fsync=${HERALD_PG_FSYNC:-on}" \
    start >/dev/null || fail "postgres failed to start; see its log: $log"
  wait_for postgres "$log" pg_run "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
  local exists
  exists=$(pg_run "$bin/psql" -h "$dir" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")
  if [[ $exists != 1 ]]; then
    pg_run "$bin/createdb" -h "$dir" -p "$PG_PORT" -U "$PG_USER" "$PG_DB" ||
      fail "could not create database $PG_DB; see $log"
  fi
  say "  postgres ready on 127.0.0.1:$PG_PORT (database $PG_DB, user $PG_USER)"
}

postgres_down() {
  local bin dir=$STATE/postgres
  bin=$(pg_bindir) || return 0
  if [[ -f $dir/postmaster.pid ]]; then
    pg_run "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# --------------------------------------------------------------------- Redis
redis_ready() {
  if command -v redis-cli >/dev/null; then
    [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
  else
    port_open "$REDIS_PORT"
  fi
}

redis_up() {
  local dir=$STATE/redis log=$STATE/redis.log
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server || fail "redis-server is not installed (install the 'redis-server' package)"
  fi
  if redis_ready; then say "  redis already running on 127.0.0.1:$REDIS_PORT"; return; fi
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$log" --appendonly yes --appendfsync everysec \
    --protected-mode yes >/dev/null || fail "redis failed to start; see its log: $log"
  wait_for redis "$log" redis_ready
  say "  redis ready on 127.0.0.1:$REDIS_PORT (AOF on)"
}

redis_down() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 20))
  while redis_ready && ((SECONDS < deadline)); do sleep 0.1; done
}

# --------------------------------------------------------------------- Kafka
kafka_ready() { port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$STATE/kafka.log" 2>/dev/null; }

kafka_fetch() {
  local libs=$STATE/kafka/libs stamp
  stamp=$(sha256sum "$HERE/kafka/pom.xml" | cut -c1-16)
  if [[ -f $libs/.stamp && $(cat "$libs/.stamp") == "$stamp" ]]; then return; fi
  command -v mvn >/dev/null || fail "Maven (mvn) is needed to fetch Kafka's jars; install it (Debian: apt-get install maven) or use HERALD_INFRA=docker"
  say "  fetching Apache Kafka jars from Maven Central"
  rm -rf "$libs"
  mvn -q -B -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >"$STATE/maven.log" 2>&1 ||
    fail "Maven could not fetch Kafka's jars; see $STATE/maven.log"
  echo "$stamp" >"$libs/.stamp"
}

kafka_up() {
  local dir=$STATE/kafka log=$STATE/kafka.log
  command -v java >/dev/null || fail "Java 17+ is needed to run Kafka; install a JDK (Debian: apt-get install openjdk-17-jre-headless) or use HERALD_INFRA=docker"
  if kafka_ready && pid_alive "$dir/kafka.pid"; then say "  kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  if port_open "$KAFKA_PORT"; then fail "port $KAFKA_PORT is taken by another program; set HERALD_KAFKA_PORT"; fi
  mkdir -p "$dir"
  kafka_fetch
  sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    -e "s|@DATA_DIR@|$dir/data|g" "$HERE/kafka/server.properties" >"$dir/server.properties"
  local java_cmd=(java -Xms256m -Xmx1g -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" -cp "$dir/libs/*")
  if [[ ! -f $dir/data/meta.properties ]]; then
    say "  formatting Kafka storage (KRaft)"
    local cluster_id
    cluster_id=$("${java_cmd[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
      >"$log" 2>&1 || fail "formatting Kafka storage failed; see $log"
  fi
  : >"$log"
  nohup "${java_cmd[@]}" kafka.Kafka "$dir/server.properties" >>"$log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
  local deadline=$((SECONDS + READY_TIMEOUT_S))
  until kafka_ready; do
    pid_alive "$dir/kafka.pid" || fail "kafka exited during start-up; see its log: $log"
    ((SECONDS < deadline)) || fail "kafka did not become ready within ${READY_TIMEOUT_S}s; see its log: $log"
    sleep 0.2
  done
  say "  kafka ready on 127.0.0.1:$KAFKA_PORT (KRaft, $(ls "$dir/libs" | grep -oP '^kafka_2\.13-\K[0-9.]+(?=\.jar)'))"
}

kafka_down() {
  local pidfile=$STATE/kafka/kafka.pid
  pid_alive "$pidfile" || return 0
  local pid
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

# -------------------------------------------------------------------- Docker
use_docker() {
  case ${HERALD_INFRA:-auto} in
    docker) return 0 ;;
    native) return 1 ;;
    *) command -v docker >/dev/null && docker info >/dev/null 2>&1 ;;
  esac
}

compose() {
  HERALD_KAFKA_PORT=$KAFKA_PORT HERALD_REDIS_PORT=$REDIS_PORT HERALD_PG_PORT=$PG_PORT \
    docker compose -f "$HERE/compose.yaml" -p herald "$@"
}

# ---------------------------------------------------------------------- main
status_line() {
  local c=$1 where
  case $c in
    postgres) where="127.0.0.1:$PG_PORT" ;;
    redis) where="127.0.0.1:$REDIS_PORT" ;;
    kafka) where="127.0.0.1:$KAFKA_PORT" ;;
  esac
  if "${c}_ready"; then printf '%-9s up    %s\n' "$c" "$where"; return 0; fi
  printf '%-9s down  %s (log: %s)\n' "$c" "$where" "$STATE/$c.log"
  return 1
}

main() {
  local cmd=${1:-status}
  shift || true
  local targets=("$@")
  ((${#targets[@]})) || targets=("${COMPONENTS[@]}")
  for c in "${targets[@]}"; do
    [[ " ${COMPONENTS[*]} " == *" $c "* ]] || fail "unknown component '$c' (one of: ${COMPONENTS[*]})"
  done
  mkdir -p "$STATE"
  case $cmd in
    up)
      if use_docker; then
        say "infra: starting ${targets[*]} with Docker Compose"
        compose up -d --wait "${targets[@]}"
        return
      fi
      say "infra: starting ${targets[*]} (state in $STATE)"
      for c in "${targets[@]}"; do
        local t0=$SECONDS
        "${c}_up"
        ((SECONDS - t0 < 2)) || say "  ($c took $((SECONDS - t0))s)"
      done
      ;;
    down)
      if use_docker; then compose stop "${targets[@]}"; return; fi
      for c in "${targets[@]}"; do "${c}_down"; say "infra: $c stopped"; done
      ;;
    status)
      if use_docker; then compose ps "${targets[@]}"; return; fi
      local rc=0
      for c in "${targets[@]}"; do status_line "$c" || rc=1; done
      return $rc
      ;;
    *) fail "usage: infra.sh up|down|status [${COMPONENTS[*]}]" ;;
  esac
}

main "$@"
