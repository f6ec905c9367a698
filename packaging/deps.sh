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

if [[ $(uname -s) == Darwin ]]; then
  if ! xcode-select -p >/dev/null 2>&1; then
    echo "deps: install Xcode's command line tools first: xcode-select --install" >&2
    exit 1
  fi
  command -v go >/dev/null || { echo "deps: install Go 1.26 (https://go.dev/dl/)" >&2; exit 1; }
  echo "deps: macOS has what Berth needs (the guest kernel is downloaded on first use)"
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
  apache2-utils     # htpasswd for the registry's auth tests
  shellcheck        # lints the packaging scripts (make lint)
  iproute2          # ip(8): network namespaces for the guest network tests
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
