#!/usr/bin/env bash
# Install what Berth needs on this machine. Idempotent: a second run does
# nothing but check. As root it installs with apt; otherwise it says what it
# would install and how.
#
# usage: deps.sh [--check]    (--check: report only, never install)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check_only=0
[[ ${1:-} == --check ]] && check_only=1

# macOS: nothing is installed for you; each missing piece is named with the
# command that installs it, and the run fails. Needed by make build: Xcode's
# command line tools with the macOS 15 SDK or newer (older SDKs compile the
# Virtualization framework's macOS 15 API out: nested virtualization would
# silently read as unsupported) and an arm64 Go 1.26 on Apple silicon (an
# amd64 berth under Rosetta refuses to run VMs). Needed by make test, to
# lint the scripts: shellcheck. The guest kernel and busybox are
# downloaded on first use.
if [[ $(uname -s) == Darwin ]]; then
  cd "$here/.."   # go reports the toolchain this module selects
  missing=0
  need() { echo "deps: $*" >&2; missing=$((missing + 1)); }
  sdk=""
  if ! xcode-select -p >/dev/null 2>&1; then
    need "Xcode's command line tools are missing: install them with xcode-select --install"
  else
    sdk=$(xcrun --sdk macosx --show-sdk-version 2>/dev/null || true)
    sdk_re='^[0-9]+'
    if [[ ! $sdk =~ $sdk_re ]]; then
      need "xcrun finds no macOS SDK: reinstall Xcode's command line tools (sudo rm -rf /Library/Developer/CommandLineTools && xcode-select --install)"
    elif ((${sdk%%.*} < 15)); then
      need "the macOS SDK is $sdk, Berth needs the macOS 15 SDK or newer: older SDKs leave out the Virtualization framework's macOS 15 API, and nested virtualization would silently read as unsupported. Install the latest command line tools (softwareupdate --list, or System Settings > General > Software Update), or select a newer Xcode with sudo xcode-select -s /Applications/Xcode.app"
    fi
  fi
  gover=""
  if ! command -v go >/dev/null; then
    need "Go is missing: install Go 1.26 or later (https://go.dev/dl/, the Apple silicon package on an M-series Mac)"
  else
    gover=$(go env GOVERSION 2>/dev/null || true)
    goarch=$(go env GOHOSTARCH 2>/dev/null || true)
    goversion_re='go([0-9]+)\.([0-9]+)'   # in a variable: bash 3.2 parses it alike
    if [[ $gover =~ $goversion_re ]]; then
      if ((BASH_REMATCH[1] == 1 && BASH_REMATCH[2] < 26)); then
        need "Go is $gover, Berth needs Go 1.26 or later: install it from https://go.dev/dl/"
      fi
    else
      need "cannot tell the Go version ('go env GOVERSION' says '$gover'): install Go 1.26 or later from https://go.dev/dl/"
    fi
    if [[ $goarch == amd64 && $(sysctl -n hw.optional.arm64 2>/dev/null || true) == 1 ]]; then
      need "this Go is the amd64 (Intel) build, running under Rosetta on Apple silicon: it would build an amd64 berth, which cannot run VMs here. Install the arm64 (Apple silicon) Go from https://go.dev/dl/"
    fi
  fi
  if ! command -v shellcheck >/dev/null; then
    need "shellcheck is missing (make lint and make test run it): install it with brew install shellcheck"
  fi
  if ((missing > 0)); then
    echo "deps: $missing missing on this Mac; install them and run make deps again" >&2
    exit 1
  fi
  echo "deps: this Mac has what Berth needs (macOS $sdk SDK, $gover, shellcheck); the guest kernel and busybox are downloaded on first use"
  exit 0
fi

# Debian/Ubuntu packages, one purpose each:
apt_packages=(
  qemu-system-x86   # the VM backend on x86_64 Linux
  qemu-system-arm   # boots the arm64 guest agent that the macOS build ships
  e2fsprogs         # e2fsck/debugfs check the ext4 disks Berth writes; mkfs.ext4 for benchmarks
  busybox-static    # the demo image and test images are built from it
  cpio              # inspect initramfs images
  kmod              # modinfo, to read guest kernel module dependencies
  skopeo            # independent OCI tool: test archives and the pull benchmark
  umoci             # independent OCI tool for tests
  docker-registry   # a real registry on loopback for tests
  docker-compose    # Python docker-compose 1.29, driven against docker.sock by the e2e test (TestDockerCompose)
  apache2-utils     # htpasswd for the registry's auth tests
  shellcheck        # lints the packaging scripts (make lint)
  iproute2          # ip(8): network namespaces for the guest network tests
  dbus-daemon       # a private session bus for the Linux tray's tests (ui/tray)
  clang             # make darwin-check parses the menu bar's Objective-C (.m) files for syntax
  libgnustep-gui-dev  # ...against GNUstep's Foundation/AppKit headers (packaging/darwincheck/objcfiles.go)
)

missing=()
for p in "${apt_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#apt_packages[@]} apt packages are installed"
elif ((check_only)); then
  echo "deps: missing apt packages: ${missing[*]}" >&2
  exit 1
elif [[ $(id -u) -ne 0 ]]; then
  echo "deps: these apt packages are missing: ${missing[*]}" >&2
  echo "deps: run 'sudo make deps' (or: sudo apt-get install -y --no-install-recommends ${missing[*]})" >&2
  exit 1
else
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: installed ${#missing[@]} apt packages"
fi

# Extra steps other parts of Berth need (guest kernels, arm64 packages)
# live in packaging/deps.d/*.sh and follow the same rules.
shopt -s nullglob
for step in "$here"/deps.d/*.sh; do
  if ((check_only)); then
    bash "$step" --check
  else
    bash "$step"
  fi
done
