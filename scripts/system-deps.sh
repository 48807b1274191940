#!/usr/bin/env bash
# Checks the system packages Régua's two environments need to build, and installs the missing ones with
# apt-get when running as root on Debian/Ubuntu. Otherwise it names them and exits non-zero.
#   - a C/C++ compiler and Python headers: some Rasa dependencies (multidict, matplotlib) build from source;
#   - pkg-config, freetype and qhull: matplotlib 3.5.3 (pinned by Rasa 3.6) has no Python 3.11 wheel and is
#     built against the system's libraries (see rasa_env/mplsetup.cfg);
#   - Debian's Chromium and two font families: the payment page's browser test
#     (tests/integration/test_payment_page.py) drives /usr/bin/chromium headless with Playwright. Without
#     root these are only named: the rest of the build goes on and that test is skipped.
set -euo pipefail
PYTHON=${1:-python3.11}

missing=()
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! pkg-config --exists freetype2 2>/dev/null; then missing+=(libfreetype-dev); fi
if [ ! -e /usr/include/libqhull_r/libqhull_r.h ]; then missing+=(libqhull-dev); fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  missing+=(python3.11 python3.11-venv python3.11-dev)
else
  # Debian splits venv/ensurepip and the C headers out of the interpreter package.
  "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3.11-venv)
  inc=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  [ -e "$inc/Python.h" ] || missing+=(python3.11-dev)
fi

# For the browser test only (see above).
browser=()
[ -x /usr/bin/chromium ] || browser+=(chromium)
[ -e /usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf ] || browser+=(fonts-liberation)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || browser+=(fonts-dejavu-core)

all=("${missing[@]}" "${browser[@]}")
if [ ${#all[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Instalando pacotes do sistema: ${all[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${all[@]}" >/dev/null
elif [ ${#missing[@]} -eq 0 ]; then
  echo "Faltam pacotes do sistema para o teste no navegador: ${all[*]} (esse teste será pulado)" >&2
  echo "Instale com: sudo apt-get install ${all[*]}" >&2
else
  echo "Faltam pacotes do sistema: ${all[*]}" >&2
  echo "Instale com: sudo apt-get install ${all[*]}" >&2
  exit 1
fi
