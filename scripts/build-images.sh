#!/usr/bin/env bash
# Builds the Sluice container images without a Docker engine (docs/images.md):
#
#   bash scripts/build-images.sh [--oci-dir DIR] [--force]
#
#   sluice/proxy:<version>       images/proxy/Dockerfile       sluice-proxy + sluice-init + iptables
#   sluice/controller:<version>  images/controller/Dockerfile  sluice-controller + sluice CLI
#
# The base is a Debian minbase root filesystem made by debootstrap (no registry image can be pulled),
# Node 24 is the binary of the npm package `node` (a devDependency), and Sluice is the `npm pack`
# tarball with its production dependencies. `buildah bud` builds with vfs storage and chroot isolation.
#
# Caching, so that a second run takes seconds: the root filesystems are kept as tarballs under the cache
# folder (SLUICE_IMAGES_CACHE, default ~/.cache/sluice-images) and made again only when missing; the
# images carry a label with the hash of their inputs (sources, lock file, Dockerfiles, this script, the
# Node version) and are not rebuilt while the label matches, unless --force.
#
#   --oci-dir DIR   also write DIR/sluice-proxy-<version>.tar and DIR/sluice-controller-<version>.tar (OCI archives)
#   --force         rebuild even when images with the same inputs exist
#
# Needs root and debootstrap, buildah (scripts/system-deps.sh images). Prints one line per step.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite="${SLUICE_IMAGES_SUITE:-trixie}"
mirror="${SLUICE_IMAGES_MIRROR:-http://deb.debian.org/debian}"
cache="${SLUICE_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice-images}"
repository="${SLUICE_IMAGES_REPOSITORY:-sluice}"
label=dev.sluice.inputs
buildah=(buildah --storage-driver vfs)

oci_dir=''
force=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --oci-dir) oci_dir="${2:?--oci-dir needs a folder}"; shift 2 ;;
    --force) force=1; shift ;;
    -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-images: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "build-images: $*" >&2; exit 1; }
step() { echo "build-images: $*" >&2; }

[[ "$(id -u)" -eq 0 ]] || fail "needs root (debootstrap and buildah's chroot isolation)"
for tool in debootstrap buildah npm tar sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is missing; run: bash scripts/system-deps.sh images"
done
node_bin="$(readlink -f "$root/node_modules/.bin/node" 2>/dev/null || true)"
[[ -x "$node_bin" ]] || fail "no Node 24 binary at node_modules/.bin/node; run npm ci first"
node_version="$("$node_bin" --version)"
[[ "$node_version" == v24.* ]] || fail "node_modules/.bin/node is $node_version, expected v24"
version="$("$node_bin" -p "require('$root/package.json').version")"
proxy_image="$repository/proxy:$version"
controller_image="$repository/controller:$version"

# The hash of everything an image is made from. Test files change no image, so they are left out.
inputs_hash() {
  (
    cd "$root"
    find src bin proto images -type f ! -name '*.test.ts' -print
    printf '%s\n' package.json package-lock.json tsconfig.json tsconfig.build.json scripts/build-images.sh
  ) | LC_ALL=C sort | (cd "$root" && xargs sha256sum) |
    { cat; echo "$suite $mirror $node_version"; } | sha256sum | cut -c1-16
}
inputs="$(inputs_hash)"

image_inputs() {
  "${buildah[@]}" inspect --type image --format "{{index .OCIv1.Config.Labels \"$label\"}}" "$1" 2>/dev/null || true
}

export_oci() {
  [[ -n "$oci_dir" ]] || return 0
  mkdir -p "$oci_dir"
  for name in proxy controller; do
    local archive="$oci_dir/sluice-$name-$version.tar"
    rm -f "$archive"
    "${buildah[@]}" push --quiet "$repository/$name:$version" "oci-archive:$archive:$repository/$name:$version" >/dev/null
    step "wrote $archive ($(du -m "$archive" | cut -f1) MB)"
  done
}

report() {
  for image in "$proxy_image" "$controller_image"; do
    step "$image: $("${buildah[@]}" images --noheading --format '{{.Size}}' "$image") (inputs $inputs)"
  done
}

if [[ $force -eq 0 && "$(image_inputs "$proxy_image")" == "$inputs" && "$(image_inputs "$controller_image")" == "$inputs" ]]; then
  step "up to date: $proxy_image and $controller_image were built from these inputs"
  report
  export_oci
  exit 0
fi

mkdir -p "$cache"

# debootstrap's Debian minbase, kept as a tarball: it takes minutes and never changes for a suite.
debootstrap_tar() {
  local name="$1" include="$2"
  local tarball="$cache/debootstrap-$suite-$name.tar"
  if [[ ! -s "$tarball" ]]; then
    local dir="$cache/debootstrap-$suite-$name.tmp" started=$SECONDS
    rm -rf "$dir"
    step "debootstrap --variant=minbase ${include:+--include=$include }$suite (a few minutes, once)"
    if ! debootstrap --variant=minbase ${include:+--include="$include"} --cache-dir="$cache/debs" \
      "$suite" "$dir" "$mirror" >"$cache/debootstrap-$name.log" 2>&1; then
      tail -n 20 "$cache/debootstrap-$name.log" >&2
      fail "debootstrap failed; the whole log is $cache/debootstrap-$name.log"
    fi
    tar --numeric-owner --xattrs -C "$dir" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
    step "debootstrap $name: $(du -m "$tarball" | cut -f1) MB in $((SECONDS - started)) s"
  fi
}

# What the images need of Debian is the C and C++ runtime libraries, a shell and coreutils (`env -S`
# in sluice-proxy's shebang), and for the proxy iptables. Nothing installs packages into the images
# (they are rebuilt, not upgraded), so apt goes, with its keys and caches; documentation, locales and
# logs go too, and glibc's iconv converters (Node converts text with its own ICU).
slim_rootfs() {
  local dir="$1"
  chroot "$dir" dpkg --purge apt libapt-pkg7.0 sqv debian-archive-keyring >/dev/null
  rm -rf "$dir"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion} "$dir"/usr/lib/x86_64-linux-gnu/gconv \
    "$dir"/var/cache/apt "$dir"/var/lib/apt "$dir"/etc/apt "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old
  find "$dir/var/log" -type f -delete
}

# The root filesystem the Dockerfiles ADD: debootstrap's, slimmed. Named by the hash of the slimming
# recipe, so that changing slim_rootfs makes it again (from the kept debootstrap tarball, in seconds).
rootfs_tar() {
  local name="$1" include="$2"
  local recipe
  recipe="$(declare -f slim_rootfs | sha256sum | cut -c1-8)"
  local tarball="$cache/rootfs-$suite-$name-$recipe.tar"
  if [[ ! -s "$tarball" ]]; then
    debootstrap_tar "$name" "$include"
    local dir="$cache/rootfs-$suite-$name.tmp"
    rm -rf "$dir" && mkdir "$dir"
    tar --numeric-owner --xattrs -C "$dir" -xf "$cache/debootstrap-$suite-$name.tar"
    slim_rootfs "$dir"
    # Sorted names: the same files give the same tarball, so buildah's layer cache recognises it.
    tar --sort=name --numeric-owner --xattrs -C "$dir" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
    find "$cache" -maxdepth 1 -name "rootfs-$suite-$name-*.tar" ! -name "${tarball##*/}" -delete
    step "root filesystem $name: $(du -m "$tarball" | cut -f1) MB"
  fi
  echo "$tarball"
}
mkdir -p "$cache/debs"
proxy_rootfs="$(rootfs_tar iptables iptables)"
controller_rootfs="$(rootfs_tar base '')"

# Sluice as the packed tarball unpacked, with the production dependencies that package-lock.json pins
# (`npm ci`; the tarball carries no lock file), then without what Node never reads at run time.
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Packed from a copy of the checkout: prepack's `rm -rf dist && tsc` then never races another
# `npm pack` in the checkout (the npm pack test) nor leaves dist/ behind.
step "npm pack (compiles src/ to dist/)"
mkdir "$work/checkout"
tar -C "$root" --exclude=./node_modules --exclude=./.git --exclude=./dist -cf - . | tar -C "$work/checkout" -xf -
ln -s "$root/node_modules" "$work/checkout/node_modules"
(cd "$work/checkout" && npm pack --silent --pack-destination "$work" >/dev/null)
mkdir -p "$work/sluice"
tar -xzf "$work"/sluice-"$version".tgz -C "$work/sluice" --strip-components=1
cp "$root/package-lock.json" "$work/sluice/"
step "npm ci --omit=dev"
(cd "$work/sluice" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
# Node does not run TypeScript under node_modules, so no .ts file there (typings included) is ever read.
find "$work/sluice/node_modules" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
  -o -iname '*.md' -o -iname '*.markdown' \) -delete
rm -rf "$work/sluice/node_modules/@types" "$work/sluice/package-lock.json" "$work/sluice/node_modules/.package-lock.json"
# Addons' prebuilt binaries for other systems (Android, macOS, Windows, other CPUs).
find "$work/sluice/node_modules" -type d -name prebuilds -print0 | while IFS= read -r -d '' dir; do
  find "$dir" -mindepth 1 -maxdepth 1 ! -name 'linux-x64*' -exec rm -rf {} +
done
find "$work/sluice/node_modules" -depth -type d -empty -delete
step "Sluice and its production dependencies: $(du -sm "$work/sluice" | cut -f1) MB"

# Node's binary carries 18 MB of debug information and static symbols, read only by debuggers and
# profilers; the dynamic symbols that addons (koffi) link against stay.
cp "$node_bin" "$work/node"
if command -v strip >/dev/null; then strip --strip-all "$work/node"; fi

build() {
  local name="$1" image="$2" rootfs="$3"
  local context="$work/$name"
  mkdir -p "$context"
  cp "$root/images/$name/Dockerfile" "$context/"
  ln "$rootfs" "$context/rootfs.tar" 2>/dev/null || cp "$rootfs" "$context/rootfs.tar"
  ln "$work/node" "$context/node"
  cp -a "$work/sluice" "$context/sluice"
  local started=$SECONDS
  "${buildah[@]}" bud --quiet --isolation chroot --layers --label "$label=$inputs" \
    --label "org.opencontainers.image.version=$version" --tag "$image" "$context" >/dev/null
  step "built $image in $((SECONDS - started)) s"
}
build proxy "$proxy_image" "$proxy_rootfs"
build controller "$controller_image" "$controller_rootfs"
# Images of earlier inputs lose their tag to the new ones. Pruning removes an untagged image only once
# no other image builds on it, so a few rounds free the old build's chain down to the layers the new one
# shares (the layer cache of the current build is never untagged-and-childless, so it stays).
for _ in 1 2 3 4 5 6 7 8; do
  [[ -n "$("${buildah[@]}" rmi --prune 2>/dev/null || true)" ]] || break
done
report
export_oci
