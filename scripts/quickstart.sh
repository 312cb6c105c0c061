#!/usr/bin/env bash
# One command from a fresh machine to a working local ensemble:
# installs ZooKeeper (Debian package) and Java when missing, npm dependencies, builds zkctl,
# brings up a 3-member ensemble on 127.0.0.1:2181-2183, and shows zkctl talking to it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

need_apt=()
[ -f /usr/share/java/zookeeper.jar ] || [ -n "${ZOOKEEPER_HOME:-}" ] || need_apt+=(zookeeper)
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run build --silent >/dev/null

zkctl() { node bin/zkctl.js "$@"; }

say "zkctl ensemble up"
zkctl ensemble up
say "zkctl health"
zkctl health
say "zkctl create /demo 'hello from zkctl'"
zkctl create /demo 'hello from zkctl' 2>/dev/null || zkctl set /demo 'hello from zkctl'
say "zkctl get /demo"
zkctl get /demo; echo
say "zkctl ls /"
zkctl ls /
echo
echo "The ensemble keeps running (state in ~/.local/state/zkctl/ensembles/local)."
echo "Try: zkctl ensemble status | zkctl ensemble kill leader | zkctl ensemble watch | zkctl ensemble down"
