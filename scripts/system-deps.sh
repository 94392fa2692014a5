#!/usr/bin/env bash
# Installs, from Debian, the system tools that Sluice's tests or benchmarks need.
#
#   bash scripts/system-deps.sh test   # namespaces + iptables + HTTP/2 clients + image tools + chromium for the tests
#   bash scripts/system-deps.sh perf   # the above, plus the peers and load tools for `npm run perf`
#   bash scripts/system-deps.sh go     # Go + protoc + protoc-gen-go + grpc-go (test/go conformance)
#   bash scripts/system-deps.sh images # debootstrap + buildah + runc (scripts/build-images.sh, its test)
#
# Only missing packages are installed (checked with `dpkg -s`), `apt-get update` runs only when an
# install is needed, and when everything is present the script returns in well under a second.
# It never fails the build: without root or apt it prints a warning and exits 0, and the tests that
# need a missing tool skip visibly.
set -u

mode="${1:-test}"

test_pkgs=(
  iptables       # iptables, ip6tables, iptables-save/-restore (nft and legacy backends)
  iproute2       # ip netns, veth pairs
  curl           # HTTP/1.1 and --http2-prior-knowledge clients
  nghttp2-client # nghttp, h2load
  nghttp2-server # nghttpd: an independent HTTP/2 server for the lean engine's client-role interop tests
  openssl        # certificates, s_client
  util-linux     # setpriv (run a process as another uid), unshare + mount (show it the checkout)
  debootstrap    # the container images and their test (scripts/build-images.sh, docs/images.md)
  buildah
  runc
  chromium       # the dashboard's browser tests drive it headless through playwright-core (docs/dashboard.md)
  prometheus     # the Prometheus backend's agreement test (docs/controller.md), run on loopback by the test
  tshark         # the mTLS end-to-end test reads its capture of the pods' veth (test/e2e/mtls.test.ts)
  tcpdump        # … which it records with tcpdump (smaller, and it needs no debconf answer)
)
perf_pkgs=(
  haproxy
  nginx
  wrk
)
# A Go gRPC peer built from proto/*.proto (GOPATH mode; ~600 MB, so not part of `test`).
go_pkgs=(
  golang-go              # go 1.19
  protobuf-compiler      # protoc 3.21
  golang-goprotobuf-dev  # protoc-gen-go 1.3 (plugins=grpc), github.com/golang/protobuf
  golang-google-grpc-dev # google.golang.org/grpc 1.33 under /usr/share/gocode
)

# Only what building the images needs (also part of `test`, whose image test runs them): a Debian
# root filesystem from debootstrap, `buildah bud` with vfs storage and chroot isolation, runc.
images_pkgs=(
  debootstrap
  buildah
  runc
  iproute2 # the image test gives the container a network namespace (veth pair)
)

case "$mode" in
  test) wanted=("${test_pkgs[@]}") ;;
  perf) wanted=("${test_pkgs[@]}" "${perf_pkgs[@]}") ;;
  go) wanted=("${go_pkgs[@]}") ;;
  images) wanted=("${images_pkgs[@]}") ;;
  -h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "system-deps: unknown mode '$mode' (expected 'test', 'perf', 'go' or 'images')" >&2
    exit 2
    ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  # `dpkg -s` also reports packages that were removed but not purged; require "install ok installed".
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

warn() {
  echo "system-deps: WARNING: $*" >&2
  echo "system-deps: tests that need these tools will be skipped." >&2
}

if [[ "$(id -u)" -ne 0 ]]; then
  warn "missing Debian packages (${missing[*]}) and not root; install them with: sudo apt-get install -y ${missing[*]}"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  warn "missing Debian packages (${missing[*]}) and apt-get is not available"
  exit 0
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp -t sluice-system-deps.XXXXXX)"
# Packages such as nginx and haproxy start a daemon on install; benchmarks start their own copies on
# loopback, so keep Debian's from starting (only when no policy is in place already).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
fi
cleanup() {
  rm -f "$log"
  if [[ $own_policy -eq 1 ]]; then rm -f "$policy"; fi
}
trap cleanup EXIT

# tshark's dependency wireshark-common asks whether non-root users may capture (a setuid dumpcap).
# Answer "no" beforehand so the install never waits on a question; tests capture as root anyway.
if command -v debconf-set-selections >/dev/null 2>&1; then
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections 2>>"$log" || true
fi

apt_install() {
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1
}

# Try without an update first only if the package lists exist (a fresh image has none); otherwise
# update, then install.
if ! { compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null && apt_install; }; then
  if ! apt-get update -qq >>"$log" 2>&1 || ! apt_install; then
    warn "apt-get could not install ${missing[*]}; last lines of its output:"
    tail -n 15 "$log" >&2
    exit 0
  fi
fi
echo "system-deps: installed ${missing[*]}"
exit 0
