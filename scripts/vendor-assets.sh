#!/bin/sh
# Vendor the API docs front-ends into api/static so /docs, /redoc and GraphiQL work offline.
#
# Fetches pinned npm tarballs with `npm pack` in a temporary directory (no node_modules,
# no install scripts) and copies only the files the pages load, plus each licence.
# Re-run after bumping a version below; the result is committed.
set -eu

SWAGGER_UI_DIST=5.35.0   # swagger-ui-bundle.js, swagger-ui.css (the bundle carries the standalone preset)
REDOC=2.5.4              # bundles/redoc.standalone.js (the 2.x line FastAPI targets)
GRAPHIQL=3.8.3           # UMD build; bundles @graphiql/toolkit, graphql and graphql-ws
REACT=18.3.1             # GraphiQL 3 expects React 18 as UMD globals
REACT_DOM=18.3.1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATIC="$ROOT/api/static"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

fetch() { # fetch NAME VERSION -> unpacks into $TMP/NAME
    name=$1
    version=$2
    dir="$TMP/$name"
    mkdir -p "$dir"
    tarball=$(cd "$dir" && npm pack --silent --ignore-scripts "$name@$version" | tail -n 1)
    tar -xzf "$dir/$tarball" -C "$dir"
}

put() { # put SOURCE DEST_DIR [DEST_NAME]
    mkdir -p "$2"
    cp "$1" "$2/${3:-$(basename "$1")}"
}

fetch swagger-ui-dist "$SWAGGER_UI_DIST"
fetch redoc "$REDOC"
fetch graphiql "$GRAPHIQL"
fetch react "$REACT"
fetch react-dom "$REACT_DOM"

rm -rf "$STATIC/swagger" "$STATIC/redoc" "$STATIC/graphiql"

p="$TMP/swagger-ui-dist/package"
put "$p/swagger-ui-bundle.js" "$STATIC/swagger"
put "$p/swagger-ui.css" "$STATIC/swagger"
put "$p/LICENSE" "$STATIC/swagger"
put "$p/swagger-ui-bundle.js.LICENSE.txt" "$STATIC/swagger"
# Drop the trailing source-map comment: the map is not vendored, so browsers would 404 on it.
sed -i '/^\/\/# sourceMappingURL=/d' "$STATIC/swagger/swagger-ui-bundle.js"
sed -i '/^\/\*# sourceMappingURL=.*\*\/$/d' "$STATIC/swagger/swagger-ui.css"

p="$TMP/redoc/package"
put "$p/bundles/redoc.standalone.js" "$STATIC/redoc"
put "$p/bundles/redoc.standalone.js.LICENSE.txt" "$STATIC/redoc"
put "$p/LICENSE" "$STATIC/redoc"
sed -i '/^\/\/# sourceMappingURL=/d' "$STATIC/redoc/redoc.standalone.js"
# The "API docs by Redocly" footer loads its logo from cdn.redoc.ly: point it at our own favicon.
sed -i 's#https://cdn.redoc.ly/redoc/logo-mini.svg#/static/favicon.png#g' "$STATIC/redoc/redoc.standalone.js"

p="$TMP/graphiql/package"
put "$p/graphiql.min.js" "$STATIC/graphiql"
put "$p/graphiql.min.css" "$STATIC/graphiql"
put "$p/LICENSE" "$STATIC/graphiql" LICENSE.graphiql
put "$TMP/react/package/umd/react.production.min.js" "$STATIC/graphiql"
put "$TMP/react/package/LICENSE" "$STATIC/graphiql" LICENSE.react
put "$TMP/react-dom/package/umd/react-dom.production.min.js" "$STATIC/graphiql"
put "$TMP/react-dom/package/LICENSE" "$STATIC/graphiql" LICENSE.react-dom
sed -i '/^\/\/# sourceMappingURL=/d' "$STATIC/graphiql/graphiql.min.js"
sed -i '/^\/\*# sourceMappingURL=.*\*\/$/d' "$STATIC/graphiql/graphiql.min.css"

cat > "$STATIC/VERSIONS.txt" <<VERSIONS
# Written by scripts/vendor-assets.sh; edit the pins there and re-run it.
swagger-ui-dist $SWAGGER_UI_DIST
redoc $REDOC
graphiql $GRAPHIQL
react $REACT
react-dom $REACT_DOM
VERSIONS

du -sh "$STATIC/swagger" "$STATIC/redoc" "$STATIC/graphiql"
