#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what the tests need
# (Debian packages when run as root, the package with its test extra), then runs
# ruff, mypy and pytest (in parallel).
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd, dbus-user-session and python3-venv: the user_manager tests run the service under
# a real `systemd --user` for a throwaway user, installed from a wheel into a venv.
# The notification servers of the desktop matrix (tests/desktops.py) and what drives
# them: xdotool clicks, xwd screenshots, makoctl's jq; dconf and gsettings for GNOME's
# do-not-disturb key. desktop-file-utils, librsvg2-bin, libglib2.0-bin: the desktop
# entries are validated, the icon's PNGs re-rendered from its SVG, the autostart entry
# launched as a session would.
# groff-base: tests/test_manual.py renders the manual page as man does.
debs=(dbus-daemon dunst xvfb libnotify-bin systemd dbus-user-session python3-venv util-linux
      xfce4-notifyd xfconf notification-daemon mate-notification-daemon lxqt-notificationd
      sway mako-notifier jq xdotool x11-apps
      dconf-service dconf-gsettings-backend libglib2.0-bin gsettings-desktop-schemas
      desktop-file-utils librsvg2-bin groff-base)
missing=()
for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  fi
fi

# Debian's and Ubuntu's own python3 take no pip installs (PEP 668): a virtualenv in .venv then.
py=python3
if python3 -c 'import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)'; then
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  py=.venv/bin/python
fi

"$py" -m pip install -q -e '.[test]'
"$py" -m ruff check .
"$py" -m mypy
"$py" -m pytest -n auto -q "$@"
