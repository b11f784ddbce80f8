#!/usr/bin/env bash
# Refreshes playground/vendor/ from the npm registry at the versions pinned in package.json, then
# checks the files against vendor/SHA256SUMS (pass --update to rewrite the sums after a bump).
# The server embeds these files; nothing is fetched at build or run time.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$(pwd)
version() { node -e "console.log(require('$here/package.json').dependencies['$1'])"; }
for pkg in graphiql react react-dom; do
  (cd "$tmp" && npm pack --silent "$pkg@$(version "$pkg")" >/dev/null)
  mkdir -p "$tmp/$pkg" && tar xzf "$tmp/$pkg-$(version "$pkg").tgz" -C "$tmp/$pkg"
done
mkdir -p vendor
cp "$tmp/graphiql/package/graphiql.min.js" vendor/graphiql.min.js
cp "$tmp/graphiql/package/graphiql.min.css" vendor/graphiql.min.css
cp "$tmp/graphiql/package/LICENSE" vendor/LICENSE.graphiql
cp "$tmp/react/package/umd/react.production.min.js" vendor/react.production.min.js
cp "$tmp/react/package/LICENSE" vendor/LICENSE.react
cp "$tmp/react-dom/package/umd/react-dom.production.min.js" vendor/react-dom.production.min.js
cp "$tmp/react-dom/package/LICENSE" vendor/LICENSE.react-dom
if [[ "${1:-}" == "--update" ]]; then
  (cd vendor && sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS)
fi
(cd vendor && sha256sum --check --quiet SHA256SUMS)
echo "playground/vendor is up to date"
