#!/usr/bin/env bash
# The compose stack (compose.yaml: a control plane and two agents with the demo model).
#   scripts/titan.sh start    # secrets once into .data/titan.env, build, start, wait for health,
#                             # then one client API key (kept in the same file)
#   scripts/titan.sh stop     # stop and remove the containers; the data volumes stay
#   scripts/titan.sh status   # each service's state and health, then the fleet from /v1/status
#   scripts/titan.sh logs     # follow every service's log (JSON lines)
# Environment: TITAN_ENV_FILE (default .data/titan.env), TITAN_COMPOSE (the compose command,
# default `docker compose`, else `docker-compose`), TITAN_BUILD=0 (use the images as they are),
# TITAN_PORT, TITAN_BIND, TITAN_PUBLIC_HOST, TITAN_AGENT1_PORT, TITAN_AGENT2_PORT, TITAN_BASE
# (see compose.yaml and docs/deploy-docker.md). COMPOSE_PROJECT_NAME picks another project.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ENV_FILE="${TITAN_ENV_FILE:-$ROOT/.data/titan.env}"

compose() {
  local cmd
  if [ -n "${TITAN_COMPOSE:-}" ]; then
    read -r -a cmd <<<"$TITAN_COMPOSE"
  elif docker compose version >/dev/null 2>&1; then
    cmd=(docker compose)
  elif command -v docker-compose >/dev/null; then
    cmd=(docker-compose)
  else
    echo "titan.sh: no compose found: install the Docker Compose v2 plugin (docker compose)" >&2
    exit 3
  fi
  "${cmd[@]}" --project-directory "$ROOT" -f "$ROOT/compose.yaml" --env-file "$ENV_FILE" "$@"
}

# Reads one KEY=value from the env file (empty when absent).
setting() {
  sed -n "s/^$1=//p" "$ENV_FILE" 2>/dev/null | tail -n 1
}

secret() {
  printf '%s%s' "$1" "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
}

ensure_env_file() {
  mkdir -p "$(dirname "$ENV_FILE")"
  touch "$ENV_FILE"
  chmod 600 "$ENV_FILE"
  [ -n "$(setting TITAN_JOIN_TOKEN)" ] || echo "TITAN_JOIN_TOKEN=$(secret tj-)" >>"$ENV_FILE"
  [ -n "$(setting TITAN_ADMIN_KEY)" ] || echo "TITAN_ADMIN_KEY=$(secret ak-titan-)" >>"$ENV_FILE"
}

# Runs a Node snippet inside the control-plane container (the host needs no Node), talking to
# the control plane on its own loopback: $1 the script, then extra `exec` options.
in_control_plane() {
  local script="$1"
  shift
  compose exec -T "$@" control-plane node --input-type=module -e "$script"
}

create_api_key() {
  in_control_plane "
    const res = await fetch('http://127.0.0.1:8080/admin/api-keys', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + process.env.ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'titan.sh' }),
    });
    if (res.status !== 201) { console.error('creating an API key: HTTP ' + res.status); process.exit(1); }
    console.log((await res.json()).key);"
}

# A key from the env file that the control plane still knows (its database is in a volume that
# may have been removed since), else a new one saved there.
ensure_api_key() {
  local key
  key="$(setting TITAN_API_KEY)"
  if [ -n "$key" ] && in_control_plane "
    const res = await fetch('http://127.0.0.1:8080/v1/models', {
      headers: { authorization: 'Bearer ' + process.env.TITAN_API_KEY },
    });
    process.exit(res.ok ? 0 : 1);" -e "TITAN_API_KEY=$key"; then
    return
  fi
  key="$(create_api_key)"
  sed -i '/^TITAN_API_KEY=/d' "$ENV_FILE"
  echo "TITAN_API_KEY=$key" >>"$ENV_FILE"
}

start() {
  ensure_env_file
  local build=(--build)
  [ "${TITAN_BUILD:-1}" = 0 ] && build=(--no-build)
  compose up --detach --wait "${build[@]}"
  ensure_api_key
  local port="${TITAN_PORT:-8080}"
  cat <<EOF
TitanCompute is up: a control plane on http://127.0.0.1:$port and two agents.
Client API key: TITAN_API_KEY in $ENV_FILE

  curl -sL http://127.0.0.1:$port/v1/chat/completions -H "authorization: Bearer \$TITAN_API_KEY" \\
    -H 'content-type: application/json' \\
    -d '{"model":"smollm2:135m","messages":[{"role":"user","content":"Hello"}]}'

scripts/titan.sh status · scripts/titan.sh logs · scripts/titan.sh stop
EOF
}

status() {
  printf '%-15s %-9s %-9s %s\n' SERVICE STATE HEALTH STATUS
  compose ps --all --format '{{printf "%-15s %-9s %-9s %s" .Service .State .Health .Status}}'
  echo
  local key
  key="$(setting TITAN_API_KEY)"
  if [ -z "$key" ]; then
    echo "fleet: no TITAN_API_KEY in $ENV_FILE (run scripts/titan.sh start)"
    return 1
  fi
  in_control_plane "
    const res = await fetch('http://127.0.0.1:8080/v1/status', {
      headers: { authorization: 'Bearer ' + process.env.TITAN_API_KEY },
    });
    if (!res.ok) { console.error('GET /v1/status: HTTP ' + res.status); process.exit(1); }
    const { agents } = await res.json();
    console.log('fleet (GET /v1/status): ' + agents.length + ' agent(s)');
    const rows = agents.map((a) => [a.id, a.state, a.breaker?.state ?? '', a.url,
      a.slots.reserved + '/' + a.slots.max, a.models.map((m) => m.name).join(','),
      Math.round(a.lastHeartbeatAgoMs / 1000) + 's ago']);
    const head = ['AGENT', 'STATE', 'BREAKER', 'URL', 'SLOTS', 'MODELS', 'HEARTBEAT'];
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    for (const r of [head, ...rows]) console.log(r.map((c, i) => String(c).padEnd(width[i])).join('  ').trimEnd());
  " -e "TITAN_API_KEY=$key"
}

if [ "${1:-}" != start ] && [ ! -f "$ENV_FILE" ]; then
  case "${1:-}" in stop | status | logs)
    echo "titan.sh: no $ENV_FILE: the stack was never started here (scripts/titan.sh start)" >&2
    exit 1
    ;;
  esac
fi
case "${1:-}" in
start) start ;;
stop) compose down ;;
status) status ;;
logs) compose logs --follow --tail 100 ;;
*)
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
