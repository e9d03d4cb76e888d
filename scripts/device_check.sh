#!/usr/bin/env bash
# Launcher of `deno task device-check` on a Linux machine with an NVIDIA GPU and no network.
#
# Usage (from the repository root, with the folder `deno task device-pack` built beside it):
#   bash scripts/device_check.sh [device-check flags, e.g. --require-cuda]
#
# From the pack folder (SSL_DEVICE_PACK, default ./device-pack) it:
#   1. decompresses the Deno binary (xz, or Python's lzma where xz is missing) unless DENO is set;
#   2. unpacks the vendored DENO_DIR (npm dependencies) and runs Deno with --cached-only;
#   3. for each library in debs/provides.txt that the machine lacks (libvulkan.so.1, the GL /
#      EGL / X11 libraries NVIDIA's Vulkan driver links), unpacks its .deb (dpkg-deb, or ar +
#      tar, or Python) into a private root and puts it on LD_LIBRARY_PATH;
#   4. points VK_DRIVER_FILES (and VK_ICD_FILENAMES, for older loaders) at NVIDIA's ICD file,
#      or writes one for libGLX_nvidia.so.0 when the driver is mounted without it;
#   5. runs scripts/device_check.ts, which prints `deno task info`, the benchmark table beside
#      PyTorch (the machine's python3) and the parity tests, and writes results/bench/device.json.
# Scratch space: SSL_DEVICE_WORK (default $TMPDIR/ssl-device-check). Nothing is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="${SSL_DEVICE_PACK:-$ROOT/device-pack}"
WORK="${SSL_DEVICE_WORK:-${TMPDIR:-/tmp}/ssl-device-check}"
mkdir -p "$WORK/bin" "$WORK/sysroot"
say() { echo "device-check.sh: $*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

# Which python to use for fallbacks (decompression, .deb unpacking) and the PyTorch peer.
PY="$(command -v python3 || true)"

# xz-decompress $1 to stdout.
unxz_cat() {
  if have xz; then
    xz -dc "$1"
  elif [ -n "$PY" ]; then
    "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  else
    say "need xz or python3 to decompress $1"
    exit 1
  fi
}

# Unpack a .tar.xz ($1) into directory $2.
untar_xz() {
  if have xz && have tar; then
    unxz_cat "$1" | tar -x -C "$2"
  else
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$1" "$2"
  fi
}

# Unpack the data of a .deb ($1) into directory $2.
unpack_deb() {
  if have dpkg-deb; then
    dpkg-deb -x "$1" "$2"
    return
  fi
  "$PY" - "$1" "$2" <<'PYEOF'
import io, sys, tarfile
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"!<arch>\n", "not an ar archive"
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
        break
    pos += 60 + size + (size & 1)
else:
    sys.exit("no data.tar member")
PYEOF
}

# Whether the dynamic linker finds library $1.
has_lib() {
  local ldc
  for ldc in ldconfig /sbin/ldconfig /usr/sbin/ldconfig; do
    if "$ldc" -p 2>/dev/null | grep -q "[[:space:]]$1[[:space:]]"; then return 0; fi
  done
  local d
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /usr/local/lib \
    ${LD_LIBRARY_PATH//:/ }; do
    [ -e "$d/$1" ] && return 0
  done
  return 1
}

# 1. Deno.
if [ -n "${DENO:-}" ]; then
  say "using DENO=$DENO"
elif [ -f "$PACK/deno.xz" ]; then
  DENO="$WORK/bin/deno"
  if [ ! -x "$DENO" ] || [ "$PACK/deno.xz" -nt "$DENO" ]; then
    say "decompressing $PACK/deno.xz"
    unxz_cat "$PACK/deno.xz" >"$DENO.tmp"
    chmod +x "$DENO.tmp"
    mv "$DENO.tmp" "$DENO"
  fi
elif have deno; then
  DENO="$(command -v deno)"
  say "no $PACK/deno.xz: using $DENO"
else
  say "no Deno: build the pack with 'deno task device-pack' (or set DENO)"
  exit 1
fi
"$DENO" --version | head -1 >&2

# 2. The vendored dependencies.
export DENO_DIR="$WORK/deno_dir"
if [ -f "$PACK/deno_dir.tar.xz" ]; then
  if [ ! -d "$DENO_DIR" ] || [ "$PACK/deno_dir.tar.xz" -nt "$DENO_DIR" ]; then
    say "unpacking the vendored dependencies"
    rm -rf "$DENO_DIR"
    untar_xz "$PACK/deno_dir.tar.xz" "$WORK"
    touch "$DENO_DIR"
  fi
  export SSL_DEVICE_OFFLINE=1
fi
export DENO_NO_UPDATE_CHECK=1 DENO_NO_PROMPT=1

# 3. Loader libraries the machine lacks.
added=0
if [ -f "$PACK/debs/provides.txt" ]; then
  while read -r soname deb; do
    [ -n "$soname" ] || continue
    # SSL_DEVICE_FORCE_DEBS=1 unpacks every package (to test this path on a machine that has them).
    if [ "${SSL_DEVICE_FORCE_DEBS:-0}" != 1 ] && has_lib "$soname"; then continue; fi
    say "$soname missing: unpacking $deb"
    unpack_deb "$PACK/debs/$deb" "$WORK/sysroot"
    added=1
  done <"$PACK/debs/provides.txt"
fi
if [ "$added" = 1 ]; then
  export LD_LIBRARY_PATH="$WORK/sysroot/usr/lib/x86_64-linux-gnu:$WORK/sysroot/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# 4. NVIDIA's Vulkan ICD.
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  icd=""
  for f in /etc/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd*.json \
    /usr/local/share/vulkan/icd.d/nvidia_icd*.json; do
    if [ -f "$f" ] && grep -q '"ICD"' "$f"; then icd="$f"; break; fi
  done
  if [ -z "$icd" ]; then
    glx=""
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
      if [ -e "$d/libGLX_nvidia.so.0" ]; then glx="$d/libGLX_nvidia.so.0"; break; fi
    done
    if [ -n "$glx" ]; then
      icd="$WORK/nvidia_icd.json"
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' \
        "$glx" >"$icd"
      say "no NVIDIA ICD file: wrote $icd for $glx"
    fi
  fi
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    say "VK_DRIVER_FILES=$icd"
  else
    say "no NVIDIA Vulkan ICD found (is the driver's graphics part mounted? NVIDIA_DRIVER_CAPABILITIES=all)"
  fi
fi
if have nvidia-smi; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
fi

# 5. The check itself (same as `deno task device-check`).
cd "$ROOT"
args=(run -A)
[ "${SSL_DEVICE_OFFLINE:-0}" = 1 ] && args=(run --cached-only -A)
exec "$DENO" "${args[@]}" scripts/device_check.ts "$@"
