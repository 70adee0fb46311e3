# Sourced by dev/test.sh (and by test/browser when run alone). The browser tests drive a headless
# Chromium with puppeteer-core, which brings no browser of its own: ensure_chromium finds one, installs
# Debian's `chromium` package when it can (root with apt-get), or stops with one line saying what to
# install. Exports CHROMIUM_PATH.

browser_die() {
  printf '\nerror: %s\n\n' "$*" >&2
  exit 1
}

# The first Chromium or Chrome on PATH that starts and names its version.
find_chromium() {
  local name path
  for name in chromium chromium-browser google-chrome-stable google-chrome; do
    path="$(command -v "$name" 2>/dev/null)" || continue
    if "$path" --version 2>/dev/null | grep -Eq '(Chromium|Chrome) [0-9]+'; then
      printf '%s\n' "$path"
      return 0
    fi
  done
  return 1
}

ensure_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] || browser_die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"
    export CHROMIUM_PATH
    return 0
  fi
  local found
  if ! found="$(find_chromium)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> Installing Chromium for the browser tests (Debian package chromium, first time only)" >&2
      local started=$SECONDS
      # The package lists may be missing or stale on a fresh machine; update only when the install needs it.
      if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; then
        apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 ||
          browser_die "installing Chromium with apt-get failed (see above); install it (apt-get install chromium) or set CHROMIUM_PATH"
      fi
      echo "==> Chromium installed in $((SECONDS - started)) s" >&2
      found="$(find_chromium)" || browser_die "Chromium was installed but does not start; check 'chromium --version' or set CHROMIUM_PATH"
    else
      browser_die "the browser tests need Chromium, and none is on PATH. Install it: apt-get install chromium (Debian), or set CHROMIUM_PATH to a Chromium or Chrome"
    fi
  fi
  CHROMIUM_PATH="$found"
  export CHROMIUM_PATH
}
