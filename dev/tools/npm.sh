# Sourced through dev/tools/all.sh. The npm packages, installed as package-lock.json locks them.

# Installs the npm dependencies as locked, again only when package-lock.json or patches/npm changed. npm
# install's postinstall applies patches/npm to node_modules with patch-package (see README, Patches to the SDK).
ensure_node_modules() {
  tools_require node "to run the engine" "Node.js 20 or newer"
  tools_require npm "to install the engine's packages" "npm (comes with Node.js)"
  local stamp="node_modules/.sfe-lock-stamp" want
  want="$( (cat package-lock.json; cat patches/npm/*.patch 2>/dev/null || true) | sha256sum | cut -c1-64)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    step_cached "npm packages: installed as package-lock.json says, patches/npm applied"
    return 0
  fi
  step_begin "Installing the npm packages (locked versions; npm's cache is $(npm config get cache 2>/dev/null || echo '~/.npm'))"
  # npm install, not npm ci: the lock file lacks the optional native packages of other platforms
  # (@swc/core-darwin-*, ...), which npm ci rejects; npm install keeps the locked versions all the same.
  npm install --no-audit --no-fund >&2
  echo "$want" > "$stamp"
  step_end "installed"
}
