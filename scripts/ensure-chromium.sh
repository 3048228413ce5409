#!/bin/sh
# Make sure /usr/bin/chromium exists for the headless-browser docs tests.
# Idempotent and instant when chromium is already installed; installs it with apt
# only when running as root on a Debian-like system, otherwise does nothing
# (the tests then skip with a reason).
set -eu

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and apt-get as root is unavailable; browser tests will skip" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
install_chromium() {
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

echo "ensure-chromium: installing chromium with apt-get" >&2
if ! install_chromium; then
    apt-get update -qq >/dev/null
    install_chromium
fi
test -x "$CHROMIUM"
