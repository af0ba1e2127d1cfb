#!/usr/bin/env bash
# Runs the README's two commands, `npm run demo` then `npm test`, in a fresh Debian container that
# has only what a new machine has: Debian bookworm (minbase), ca-certificates with this machine's
# local CAs, g++, make, python3, and this machine's Node with its headers and npm configured to
# build against them. Everything else (runc, skopeo, docker.io, …, a running dockerd) the two
# commands must install and start themselves. Proves issue 23's "two commands on a fresh machine".
#
# Usage: scripts/fresh-machine-check.sh [--keep] [--rebuild-image] [-- COMMAND…]
#   COMMAND   what to run in the checkout instead of `npm run demo && npm test`
#   --keep    keep the work directory (the checkout and the state directories) afterwards
#   --rebuild-image   make the fresh-machine image again even if docker has it
# Environment: DOCKER (default /usr/bin/docker, whose daemon must run), FRESH_WORK (the parent of
# the work directory, default /var/tmp), FRESH_LOG (also write the output there).
#
# Needs root, a running dockerd, mmdebstrap (for the image, made once and kept as
# strata-fresh-machine:bookworm) and Debian's mirror. It checks out HEAD of this repository (a
# `git clone`, as a new user would): commit before checking.
#
# The container is nearly privileged: `--privileged` fails on machines whose capability bounding
# set lacks CAP_SYS_RESOURCE, so it gets every capability but that one, no seccomp/AppArmor
# confinement, all devices and the host's cgroups, with the device nodes a machine has and docker
# does not create (/dev/net/tun for slirp4netns, /dev/fuse). Overlayfs cannot stack on the container's own
# overlay root, so every state directory (strata's, docker's, the examples', /tmp and the checkout)
# is a bind mount of a host directory.
set -euo pipefail
# One compound command: bash reads all of it before running any, so editing this file while a
# check runs (it takes most of an hour) cannot change what the running check does next.
{

repo=$(cd "$(dirname "$0")/.." && pwd)
docker=${DOCKER:-/usr/bin/docker}
image=strata-fresh-machine:bookworm
keep=0
rebuild=0
commands='npm run demo && npm test'
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=1 ;;
    --rebuild-image) rebuild=1 ;;
    --) shift; [ $# -gt 0 ] && commands="$*"; break ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-machine-check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "${FRESH_LOG:-}" ]; then exec > >(tee -a "$FRESH_LOG") 2>&1; fi
say() { printf '== %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

if [ "$(id -u)" != 0 ]; then echo "fresh-machine-check: needs root (it runs a nearly privileged container)" >&2; exit 1; fi
if ! "$docker" info >/dev/null 2>&1; then
  echo "fresh-machine-check: no Docker daemon answers $docker: start dockerd first" >&2
  exit 1
fi

# --- the image: what a new machine has -----------------------------------------------------------
if [ "$rebuild" = 1 ] || ! "$docker" image inspect "$image" >/dev/null 2>&1; then
  command -v mmdebstrap >/dev/null || { echo "fresh-machine-check: the image needs mmdebstrap (apt-get install mmdebstrap)" >&2; exit 1; }
  node_bin=$(command -v node)
  node_prefix=$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)
  npm_dir=$node_prefix/lib/node_modules/npm
  nodedir=$(npm config get nodedir)
  [ -n "$nodedir" ] && [ "$nodedir" != undefined ] || nodedir=$node_prefix
  [ -f "$nodedir/include/node/node.h" ] || { echo "fresh-machine-check: no Node headers in $nodedir/include/node" >&2; exit 1; }
  mapfile -t sources < <(cd "$repo" && node -e "import('./scripts/bootstrap.mjs').then((m) => console.log(m.hostDebianSources('bookworm').join('\n')))")
  # The npm configuration a new machine has: its global npmrc (the CA file) and the user's nodedir
  # (without it node-gyp downloads headers, which these machines cannot). A custom registry too.
  npmrc=$(mktemp)
  { echo "nodedir=$nodedir"; reg=$(npm config get registry); case $reg in https://registry.npmjs.org*) ;; *) echo "registry=$reg" ;; esac; } >"$npmrc"
  hooks=(
    "--customize-hook=copy-in $node_bin /usr/bin"
    "--customize-hook=mkdir -p \"\$1$nodedir/include/node\" \"\$1$node_prefix/lib/node_modules/npm\""
    "--customize-hook=sync-in $nodedir/include/node $nodedir/include/node"
    "--customize-hook=sync-in $npm_dir $node_prefix/lib/node_modules/npm"
    "--customize-hook=ln -sf ../lib/node_modules/npm/bin/npm-cli.js \"\$1$node_prefix/bin/npm\"; ln -sf ../lib/node_modules/npm/bin/npx-cli.js \"\$1$node_prefix/bin/npx\""
    "--customize-hook=upload $npmrc /root/.npmrc"
  )
  [ -f "$node_prefix/etc/npmrc" ] && hooks+=("--customize-hook=mkdir -p \"\$1$node_prefix/etc\"" "--customize-hook=copy-in $node_prefix/etc/npmrc $node_prefix/etc")
  if [ -d /usr/local/share/ca-certificates ]; then
    hooks+=("--customize-hook=sync-in /usr/local/share/ca-certificates /usr/local/share/ca-certificates"
      "--customize-hook=chroot \"\$1\" update-ca-certificates >/dev/null")
  fi
  say "making $image: mmdebstrap --variant=minbase bookworm + ca-certificates g++ make python3 + Node $(node --version) from $node_prefix"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,g++,make,python3 \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --aptopt='Acquire::Languages "none"' \
    "${hooks[@]}" --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    --format=tar bookworm - "${sources[@]}" |
    "$docker" import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -m 'a fresh machine: minbase + g++ make python3 + node' - "$image" >/dev/null
  rm -f "$npmrc"
fi

# --- the work directory: a fresh clone and empty state directories --------------------------------
work=$(mktemp -d "${FRESH_WORK:-/var/tmp}/strata-fresh.XXXXXX")
name=strata-fresh-$$
cleanup() {
  "$docker" rm -f "$name" >/dev/null 2>&1 || true
  if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work"/{var-lib-strata,var-lib-strata-test,var-lib-docker,tmp}
chmod 1777 "$work/tmp"
git clone --quiet "$repo" "$work/src"
say "checkout: $(git -C "$work/src" log -1 --format='%h %s' | cut -c1-100)"

# The environment a new machine sets: its extra CA file for Node, its locale (GNU tar, an oracle in
# the tests, prints non-ASCII names as octal escapes without a UTF-8 one).
env_args=()
for var in NODE_EXTRA_CA_CERTS LANG LC_ALL; do
  [ -n "${!var:-}" ] && env_args+=(-e "$var=${!var}")
done
say "running in $image: $commands"
start=$(date +%s)
set +e
"$docker" run --rm --name "$name" \
  --cap-add ALL --cap-drop SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
  --device-cgroup-rule 'a *:* rwm' --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
  --device /dev/net/tun --device /dev/fuse \
  -v "$work/src:/src" -v "$work/var-lib-strata:/var/lib/strata" -v "$work/var-lib-strata-test:/var/lib/strata-test" \
  -v "$work/var-lib-docker:/var/lib/docker" -v "$work/tmp:/tmp" \
  "${env_args[@]}" -e CI=true -w /src "$image" bash -c "set -e; echo \"node \$(node --version), npm \$(npm --version), \$(g++ --version | head -1)\"; $commands" </dev/null
status=$?
set -e
say "exit $status after $(( $(date +%s) - start )) s"
exit "$status"
}
