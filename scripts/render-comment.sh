#!/usr/bin/env bash
# Renders the PR comment of the README example as GitHub shows it and screenshots it into
# docs/comment.png.
#
#   scripts/render-comment.sh [OUT.png]
#
# - Markdown: `evalgate check` on policies/detection.yaml and examples/evals/*.json
#   (`--today 2026-11-26`, as the tests run it).
# - HTML: cmarkgfm (`pip install cmarkgfm`), the Python binding of GitHub's own cmark-gfm,
#   with the extensions GitHub enables (table, autolink, strikethrough, tagfilter).
# - CSS: github-markdown-css 5.9.0 from the npm registry (MIT License, Copyright (c) Sindre
#   Sorhus <sindresorhus@gmail.com> (https://sindresorhus.com)), installed into a temporary
#   directory and inlined into the page; not kept in this repository.
# - Screenshot: headless Chromium (Debian: `apt-get install chromium`), 900 px wide so the
#   content column is about 870 px, GitHub's comment width.
#
# The Mermaid chart stays a code block here: GitHub renders it from the same source, but a
# static page has no Mermaid renderer. Folded `<details>` blocks are shown closed, as a
# reader first sees them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/comment.png}
css_version=5.9.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --locked -q
# The example gate fails (exit 1); that is the point of the picture.
target/debug/evalgate check --policy policies/detection.yaml \
    --baseline examples/evals/baseline.json --candidate examples/evals/candidate.json \
    --today 2026-11-26 --markdown "$work/comment.md" >/dev/null || test $? -eq 1

npm install --silent --no-audit --no-fund --prefix "$work/npm" "github-markdown-css@$css_version" >/dev/null
css="$work/npm/node_modules/github-markdown-css/github-markdown-light.css"

python3 - "$work/comment.md" "$css" "$work/comment.html" <<'EOF'
import sys
import cmarkgfm
from cmarkgfm.cmark import Options

md, css, html = sys.argv[1:]
body = cmarkgfm.github_flavored_markdown_to_html(
    open(md, encoding="utf-8").read(), options=Options.CMARK_OPT_UNSAFE
)
page = f"""<!doctype html>
<html><head><meta charset="utf-8">
<style>{open(css, encoding="utf-8").read()}</style>
<style>
  body {{ margin: 0; background: #ffffff; }}
  .markdown-body {{ box-sizing: border-box; width: 870px; padding: 16px 20px;
    font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif,
    "Noto Color Emoji"; }}
</style></head>
<body><article class="markdown-body">{body}</article></body></html>"""
open(html, "w", encoding="utf-8").write(page)
EOF

chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$(mktemp -d -p "$work")" --hide-scrollbars \
    --screenshot="$out" --window-size="${WINDOW_SIZE:-900,740}" "file://$work/comment.html" 2>/dev/null
echo "wrote $out (github-markdown-css $css_version)"
