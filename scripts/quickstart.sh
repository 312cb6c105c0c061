#!/usr/bin/env bash
# One command from a fresh machine to a working local ensemble:
# installs ZooKeeper (Debian package) and Java when missing, npm dependencies, builds zkctl,
# brings up a 3-member ensemble on 127.0.0.1:2181-2183, and shows zkctl talking to it.
# Leaves `zkctl` on PATH (`npm link`: a symlink in npm's global bin folder to this checkout;
# undo with `npm unlink -g zkctl`), or says how when that folder is not writable.
# ZKCTL_QUICKSTART_NO_LINK=1 skips the link.
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
# The state directory as zkctl computes it (an absolute $XDG_STATE_HOME, else ~/.local/state).
state_base="${XDG_STATE_HOME:-}"
case "$state_base" in /*) ;; *) state_base="$HOME/.local/state" ;; esac
echo "The ensemble keeps running (state in $state_base/zkctl/ensembles/local)."

# zkctl on PATH
global_bin="$(npm prefix -g 2>/dev/null)/bin"
if [ -n "${ZKCTL_QUICKSTART_NO_LINK:-}" ]; then
  echo "Not linked (ZKCTL_QUICKSTART_NO_LINK is set): run zkctl as $(pwd)/bin/zkctl.js, or: npm link"
elif npm link --no-audit --no-fund --loglevel=error >/dev/null 2>&1; then
  echo "zkctl is on your PATH: npm link made $global_bin/zkctl point to $(pwd)/bin/zkctl.js (undo: npm unlink -g zkctl)."
  case ":$PATH:" in *":$global_bin:"*) ;; *) echo "Note: $global_bin is not on PATH here: add it (export PATH=\"$global_bin:\$PATH\")." ;; esac
else
  echo "Could not run npm link (is $global_bin writable? try: sudo npm link, or npm config set prefix ~/.local)."
  echo "Meanwhile: alias zkctl='$(pwd)/bin/zkctl.js'"
fi
echo "Try: zkctl ensemble status | zkctl ensemble kill leader | zkctl ensemble watch | zkctl ensemble down"
