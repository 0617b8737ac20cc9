#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft, broker and controller in one
# JVM) on 127.0.0.1 for local development, tests and CI. No Docker: the jars
# come from Maven Central through Maven and are cached outside the repository.
set -euo pipefail

readonly KAFKA_VERSION=4.4.0
readonly SCALA_BINARY_VERSION=2.13
# The Kafka 4.4.0 POMs depend on slf4j-api 1.7.36 and log4j-core 2.25.5, so
# the binding is log4j2's adapter for slf4j 1.x at that same log4j version.
readonly LOG4J_VERSION=2.25.5

PORT="${ALPR_KAFKA_PORT:-9092}"
# Defaults to PORT + 1, set in main once PORT is known to be a number.
CONTROLLER_PORT="${ALPR_KAFKA_CONTROLLER_PORT:-}"
KAFKA_HOME="${ALPR_KAFKA_HOME:-${HOME:?HOME is not set}/.cache/alpr/kafka-$KAFKA_VERSION}"
DATA_DIR="${ALPR_KAFKA_DATA:-$HOME/.cache/alpr/kafka-data-$PORT}"
START_TIMEOUT="${ALPR_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${ALPR_KAFKA_STOP_TIMEOUT:-30}"
HEAP="${ALPR_KAFKA_HEAP:-1g}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

LIBS_DIR="$KAFKA_HOME/libs"
# Written only after Maven copied every jar, so a half-finished download is
# fetched again instead of being used.
COMPLETE_MARKER="$KAFKA_HOME/.complete"
STORAGE_DIR="$DATA_DIR/storage"
SERVER_PROPERTIES="$DATA_DIR/server.properties"
LOG4J_PROPERTIES="$DATA_DIR/log4j2.properties"
ADMIN_PROPERTIES="$DATA_DIR/admin.properties"
PID_FILE="$DATA_DIR/kafka.pid"
LOG_FILE="$DATA_DIR/kafka.log"
# The controller port that the storage was formatted with. The single voter's
# endpoint is written into the metadata log at format time, so a later start
# on another controller port would find no quorum.
FORMATTED_CONTROLLER_PORT_FILE="$DATA_DIR/formatted-controller-port"

usage() {
    cat <<EOF
usage: $(basename "$0") COMMAND

Runs a single-node Kafka $KAFKA_VERSION broker (KRaft mode, no ZooKeeper) on
127.0.0.1 for development and tests.

commands:
  start      download the jars if needed, format the storage on first use,
             start the broker in the background and wait until it responds
             to a metadata request; does nothing if this script's broker
             already runs
  stop       stop the broker that this script started (SIGTERM, then SIGKILL
             after ALPR_KAFKA_STOP_TIMEOUT seconds)
  status     print whether the broker runs; exit 0 if its port accepts
             connections, 1 if its process runs but the port does not, 3 if
             it is not running
  wait       wait until the broker responds to a metadata request, at most
             ALPR_KAFKA_START_TIMEOUT seconds
  logs [N]   print the last N lines of the broker log (default 100)
  help       print this text

environment:
  ALPR_KAFKA_PORT             client listener port (default 9092)
  ALPR_KAFKA_CONTROLLER_PORT  KRaft controller port (default ALPR_KAFKA_PORT + 1)
  ALPR_KAFKA_HOME             jar cache (default ~/.cache/alpr/kafka-$KAFKA_VERSION)
  ALPR_KAFKA_DATA             storage, config, log and pid file
                              (default ~/.cache/alpr/kafka-data-PORT)
  ALPR_KAFKA_START_TIMEOUT    seconds to wait for the broker to respond (default 90)
  ALPR_KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
  ALPR_KAFKA_HEAP             JVM max heap, as for -Xmx (default 1g)
  JAVA_HOME                   Java 17 or newer to use (default: java on PATH)

Clients connect to 127.0.0.1:PORT over PLAINTEXT. Topics are not created
automatically (auto.create.topics.enable=false).
EOF
}

log() {
    printf 'kafka: %s\n' "$*"
}

die() {
    printf 'kafka: error: %s\n' "$*" >&2
    exit 1
}

require_number() {
    local name=$1 value=$2
    [[ $value =~ ^[0-9]+$ ]] || die "invalid $name: '$value' (expected a whole number)"
}

check_java() {
    command -v "$JAVA" >/dev/null 2>&1 || die "java not found at '$JAVA': install Java 17 or newer, or set JAVA_HOME"
    local spec
    spec=$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
    if [[ -z $spec || ${spec%%.*} -lt 17 ]]; then
        die "Kafka $KAFKA_VERSION needs Java 17 or newer, found '${spec:-unknown}' at '$JAVA': set JAVA_HOME"
    fi
}

# Succeeds if the process runs this data folder's broker. A pid reused by an
# unrelated process does not match, because its command line lacks this
# server.properties.
is_broker_process() {
    local pid=$1 cmdline
    cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
    [[ $cmdline == *kafka.Kafka*"$SERVER_PROPERTIES"* ]]
}

# Succeeds if the process exists and is not a zombie, whatever it runs. Right
# after the fork the broker's pid still runs bash, so a check of its command
# line would wrongly report that it exited.
is_process_alive() {
    local pid=$1 stat
    stat=$({ cat "/proc/$pid/stat"; } 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# Prints the pid from the pid file if that process is still this script's
# broker.
running_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    is_broker_process "$pid" || return 1
    printf '%s\n' "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Succeeds when the broker lists its topics, which needs a metadata response.
# A KRaft broker accepts client requests only after the controller has
# unfenced it, so topics can be created once this succeeds.
broker_responds() {
    timeout 30 "$JAVA" -Xmx256m -cp "$LIBS_DIR/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "127.0.0.1:$PORT" --command-config "$ADMIN_PROPERTIES" \
        --list >/dev/null 2>&1
}

show_log_tail() {
    if [[ -f $LOG_FILE ]]; then
        printf 'kafka: last lines of %s:\n' "$LOG_FILE" >&2
        tail -n 40 "$LOG_FILE" >&2
    fi
}

jars_complete() {
    [[ -f $COMPLETE_MARKER && -f $LIBS_DIR/kafka_$SCALA_BINARY_VERSION-$KAFKA_VERSION.jar ]]
}

write_pom() {
    cat >"$KAFKA_HOME/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/local/kafka.sh: the jars a Kafka $KAFKA_VERSION broker and its command-line tools need. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>alpr.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- Broker, controller and kafka.tools.StorageTool; pulls kafka-server, kafka-storage, kafka-metadata and log4j-core. -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_BINARY_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- TopicCommand, ConsoleProducer, ConsoleConsumer and ProducerPerformance. -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- Without an slf4j binding the broker would log nothing. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

ensure_jars() {
    if jars_complete; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (apt-get install maven) to download the Kafka jars"

    log "downloading kafka $KAFKA_VERSION jars into $LIBS_DIR"
    mkdir -p "$KAFKA_HOME"
    write_pom
    local staging="$KAFKA_HOME/libs.partial"
    rm -rf "$staging"
    local maven_log="$KAFKA_HOME/maven.log"
    if ! mvn -B -f "$KAFKA_HOME/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$staging" >"$maven_log" 2>&1; then
        tail -n 40 "$maven_log" >&2
        die "maven failed to download the kafka $KAFKA_VERSION jars (full output in $maven_log)"
    fi
    rm -rf "$LIBS_DIR"
    mv "$staging" "$LIBS_DIR"
    printf '%s\n' "$KAFKA_VERSION" >"$COMPLETE_MARKER"
    log "downloaded $(find "$LIBS_DIR" -name '*.jar' | wc -l) jars"
}

# Rewritten on every start so that changes to this script apply to an
# existing data folder.
write_config() {
    cat >"$SERVER_PROPERTIES" <<EOF
# Generated by deploy/local/kafka.sh on every start: edit the script instead.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$STORAGE_DIR

# One broker, so every internal topic gets one replica. The transaction
# defaults (replication factor 3, min ISR 2) would make transactional
# producers fail to initialize.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# The project creates its own topics with explicit settings.
auto.create.topics.enable=false
num.partitions=1

# Tests start many consumer groups, and the default 3 s delay would slow each one.
group.initial.rebalance.delay.ms=0

# Compaction for small test topics. The cleaner checks for work every second
# and may compact a record as soon as its segment is closed. It never touches
# the active segment, so a test topic needs its own small segment.ms or
# segment.bytes before compaction shows.
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.backoff.ms=1000
log.cleaner.min.compaction.lag.ms=0
log.cleaner.min.cleanable.ratio=0.01
log.cleaner.delete.retention.ms=1000
# 32 MiB of the heap instead of the default 128 MiB.
log.cleaner.dedupe.buffer.size=33554432
EOF

    cat >"$LOG4J_PROPERTIES" <<'EOF'
# Generated by deploy/local/kafka.sh. The broker's stdout goes to kafka.log.
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p %c - %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF

    write_admin_properties
}

# Client settings for the readiness check, so that one attempt against a
# broker that is still starting fails in seconds instead of a minute.
write_admin_properties() {
    cat >"$ADMIN_PROPERTIES" <<'EOF'
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

check_formatted_controller_port() {
    [[ -f $FORMATTED_CONTROLLER_PORT_FILE ]] || return 0
    local formatted_port
    formatted_port=$(<"$FORMATTED_CONTROLLER_PORT_FILE")
    if [[ $formatted_port != "$CONTROLLER_PORT" ]]; then
        die "storage in $STORAGE_DIR was formatted for controller port $formatted_port, not $CONTROLLER_PORT: set ALPR_KAFKA_CONTROLLER_PORT=$formatted_port or remove $DATA_DIR"
    fi
}

format_storage_once() {
    local meta="$STORAGE_DIR/meta.properties"
    if [[ -f $meta ]]; then
        log "storage already formatted (cluster id $(sed -n 's/^cluster.id=//p' "$meta"))"
        return 0
    fi

    local cluster_id
    cluster_id=$("$JAVA" -cp "$LIBS_DIR/*" kafka.tools.StorageTool random-uuid)
    log "formatting storage in $STORAGE_DIR (cluster id $cluster_id)"
    # --standalone makes this node the only voter of a dynamic KRaft quorum,
    # which needs controller.quorum.bootstrap.servers and no
    # controller.quorum.voters.
    if ! "$JAVA" -cp "$LIBS_DIR/*" kafka.tools.StorageTool format --standalone \
        -t "$cluster_id" -c "$SERVER_PROPERTIES" >>"$LOG_FILE" 2>&1; then
        show_log_tail
        die "formatting storage in $STORAGE_DIR failed"
    fi
    printf '%s\n' "$CONTROLLER_PORT" >"$FORMATTED_CONTROLLER_PORT_FILE"
}

# Waits until the broker responds to a metadata request. Given the broker's pid,
# fails early if that process exits.
wait_ready() {
    local pid=${1:-}
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if [[ -n $pid ]] && ! is_process_alive "$pid"; then
            show_log_tail
            die "broker process $pid exited during startup"
        fi
        if port_open "$PORT" && broker_responds; then
            return 0
        fi
        sleep 1
    done
    show_log_tail
    if [[ -n $pid ]]; then
        die "broker did not respond on 127.0.0.1:$PORT within ${START_TIMEOUT}s; its process $pid still runs: run '$0 wait' to wait longer or '$0 stop'"
    fi
    die "broker did not respond on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
}

cmd_start() {
    mkdir -p "$DATA_DIR"
    # Serializes concurrent starts and stops on the same data folder. The
    # broker is started with descriptor 9 closed, so it does not keep the lock.
    exec 9>"$DATA_DIR/kafka.lock"
    flock -w 600 9 || die "timed out waiting for the lock on $DATA_DIR/kafka.lock"

    local pid
    if pid=$(running_pid); then
        if port_open "$PORT"; then
            log "already running (pid $pid, bootstrap 127.0.0.1:$PORT)"
            return 0
        fi
        log "broker process $pid runs but port $PORT does not accept connections yet: waiting"
        wait_ready "$pid"
        log "ready (pid $pid, bootstrap 127.0.0.1:$PORT)"
        return 0
    fi
    rm -f "$PID_FILE"

    local port
    for port in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$port"; then
            die "port $port on 127.0.0.1 is in use by a process this script did not start: stop it or set ALPR_KAFKA_PORT / ALPR_KAFKA_CONTROLLER_PORT"
        fi
    done

    check_formatted_controller_port
    check_java
    ensure_jars
    mkdir -p "$STORAGE_DIR"
    if [[ -f $LOG_FILE ]]; then
        mv -f "$LOG_FILE" "$LOG_FILE.1"
    fi
    write_config
    format_storage_once

    log "starting kafka $KAFKA_VERSION on 127.0.0.1:$PORT (controller port $CONTROLLER_PORT, data $DATA_DIR)"
    nohup "$JAVA" -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOG4J_PROPERTIES" \
        -cp "$LIBS_DIR/*" kafka.Kafka "$SERVER_PROPERTIES" \
        >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"

    wait_ready "$pid"
    log "ready (pid $pid, bootstrap 127.0.0.1:$PORT)"
}

wait_for_exit() {
    local pid=$1 seconds=$2
    local deadline=$((SECONDS + seconds))
    while ((SECONDS < deadline)); do
        is_broker_process "$pid" || return 0
        sleep 0.5
    done
    ! is_broker_process "$pid"
}

cmd_stop() {
    [[ -d $DATA_DIR ]] || { log "not running (no data folder $DATA_DIR)"; return 0; }
    exec 9>"$DATA_DIR/kafka.lock"
    flock -w 600 9 || die "timed out waiting for the lock on $DATA_DIR/kafka.lock"

    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE"
        if port_open "$PORT"; then
            log "not running from this script, but port $PORT accepts connections: that process was not started here, so it is left alone"
        else
            log "not running"
        fi
        return 0
    fi

    log "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_for_exit "$pid" "$STOP_TIMEOUT"; then
        log "pid $pid still running after ${STOP_TIMEOUT}s: sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_for_exit "$pid" 10 || die "pid $pid did not exit after SIGKILL"
    fi
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if ! pid=$(running_pid); then
        log "not running (data $DATA_DIR)"
        return 3
    fi
    if port_open "$PORT"; then
        log "running (pid $pid, bootstrap 127.0.0.1:$PORT, data $DATA_DIR)"
        return 0
    fi
    log "process $pid runs but port $PORT does not accept connections"
    return 1
}

cmd_wait() {
    if ! running_pid >/dev/null && ! port_open "$PORT"; then
        die "not running: start it with $0 start"
    fi
    check_java
    jars_complete || die "kafka jars missing in $LIBS_DIR: run $0 start"
    mkdir -p "$DATA_DIR"
    write_admin_properties
    local pid
    pid=$(running_pid) || pid=
    wait_ready "$pid"
    log "ready (bootstrap 127.0.0.1:$PORT)"
}

cmd_logs() {
    local lines=${1:-100}
    require_number "line count" "$lines"
    [[ -f $LOG_FILE ]] || die "log file not found: $LOG_FILE (the broker has not been started with this data folder)"
    tail -n "$lines" "$LOG_FILE"
}

main() {
    require_number ALPR_KAFKA_PORT "$PORT"
    CONTROLLER_PORT=${CONTROLLER_PORT:-$((PORT + 1))}
    require_number ALPR_KAFKA_CONTROLLER_PORT "$CONTROLLER_PORT"
    require_number ALPR_KAFKA_START_TIMEOUT "$START_TIMEOUT"
    require_number ALPR_KAFKA_STOP_TIMEOUT "$STOP_TIMEOUT"
    [[ $PORT != "$CONTROLLER_PORT" ]] || die "ALPR_KAFKA_PORT and ALPR_KAFKA_CONTROLLER_PORT are both $PORT: they must differ"

    local command=${1:-}
    shift || true
    case $command in
        start) cmd_start ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        wait) cmd_wait ;;
        logs) cmd_logs "$@" ;;
        help | -h | --help) usage ;;
        "")
            usage >&2
            exit 2
            ;;
        *)
            printf 'kafka: error: unknown command %s\n\n' "$command" >&2
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
