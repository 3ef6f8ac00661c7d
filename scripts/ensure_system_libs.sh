#!/usr/bin/env bash
# Make sure the system parts worldalign needs are present: Python's venv module, and the shared
# libraries that headless MuJoCo rendering needs.
#
# worldalign renders Meta-World offscreen through EGL on Mesa (software rasteriser on a CPU
# machine, the vendor driver on a GPU machine). Missing libraries otherwise surface much later
# as a misleading `_mjr_context` AttributeError inside mujoco.
#
# Run as root: installs the missing Debian packages. Otherwise: names them and fails.
set -euo pipefail

# library file -> Debian package that ships it
declare -A needed=(
  [libEGL.so.1]=libegl1
  [libEGL_mesa.so.0]=libegl-mesa0
  [libOpenGL.so.0]=libopengl0
  [libGL.so.1]=libgl1
  [libgbm.so.1]=libgbm1
)

missing=()
for lib in "${!needed[@]}"; do
  if ! ldconfig -p 2>/dev/null | grep -q "${lib}"; then
    missing+=("${needed[$lib]}")
  fi
done
# The Mesa DRI drivers are not a plain library on the loader path; check their folder.
if ! ls /usr/lib/*/dri/swrast_dri.so /usr/lib/*/dri/kms_swrast_dri.so >/dev/null 2>&1; then
  missing+=(libgl1-mesa-dri)
fi

# Debian splits `python3 -m venv` (ensurepip) into its own package.
python=${PYTHON:-python3}
if ! "$python" -c "import ensurepip, venv" >/dev/null 2>&1; then
  missing+=("python3-venv")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages for worldalign: present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for worldalign: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "error: worldalign needs these Debian packages, which are missing: ${missing[*]}" >&2
  echo "       install them as root:  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
