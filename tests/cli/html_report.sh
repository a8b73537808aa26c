#!/usr/bin/env bash
# check --html: the report of a failing check is one self-contained page (no
# script, nothing fetched) that headless Chromium renders with its verdict
# table and the failing trajectory's plot visible: the allowed band and the
# values outside it, counted as pixels of their colours in a screenshot.
# usage: html_report.sh ADAMCONF SOURCE_DIR PYTHON
source "$(dirname "$0")/common.sh" "$@"
chromium=$(command -v chromium || command -v chromium-browser) || fail "no chromium (scripts/install-deps.sh installs it)"

"$adamconf" check --impl "$python $src/tests/adapters/buggy_adapter.py" --preset kingma-ba --dtype float64 --cases 5 \
  --property trajectory-agrees-with-reference --property long-trajectory-agrees-with-reference --property step-one-closed-form \
  --html "$tmp/report.html" >"$tmp/out" 2>&1
[ $? -eq 1 ] || { cat "$tmp/out"; fail "the buggy adapter does not fail the check"; }
[ -s "$tmp/report.html" ] || fail "no HTML report written"
grep -qiE '<script|<link|<img|<iframe|src=|url\(|@import' "$tmp/report.html" && fail "the report loads something: $(grep -oiE '<script|<link|<img|<iframe|src=[^ ]*|url\([^)]*\)|@import' "$tmp/report.html" | head -3)"
grep -oE 'https?://[^"]*' "$tmp/report.html" | grep -vx 'http://www.w3.org/2000/svg' | grep -q . && fail "the report names an address: $(grep -oE 'https?://[^"]*' "$tmp/report.html" | grep -vx 'http://www.w3.org/2000/svg' | head -1)"

browse() { timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
             --user-data-dir="$tmp/profile" --hide-scrollbars "$@" 2>>"$tmp/chromium.log"; }
browse --dump-dom "file://$tmp/report.html" >"$tmp/dom.html" || { tail -5 "$tmp/chromium.log"; fail "chromium could not render the report"; }
for needle in 'id="verdict" class="FAIL"' 'id="verdicts"' '<svg class="plot values"' '<svg class="plot errors"' \
              'class="band"' 'class="outside"' 'class="exact"' 'class="observed"' 'trajectory-agrees-with-reference: the failing case' \
              'replay: adamconf check'; do
  grep -qF -- "$needle" "$tmp/dom.html" || fail "the rendered page lacks $needle"
done
plots=$(grep -o '<svg class="plot' "$tmp/dom.html" | wc -l)
[ "$plots" -ge 4 ] || fail "$plots plots, expected two panels for each of the two failing trajectories"

browse --screenshot="$tmp/shot.png" --window-size=1200,2400 "file://$tmp/report.html" >/dev/null ||
  { tail -5 "$tmp/chromium.log"; fail "chromium could not take a screenshot"; }
# Pixels of the band's fill (#c9e8c9) and of the points outside it (#d62020), from the PNG (zlib, no imaging library).
"$python" - "$tmp/shot.png" <<'PY' || fail "the plot is not visible in the screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width, height, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if kind == b"IHDR": width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT": idat += body
bpp = {2: 3, 6: 4}[ctype]
raw, stride, prev, rows = zlib.decompress(idat), width * bpp, bytearray(width * bpp), []
for y in range(height):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        line[i] = (line[i] + [0, a, b, (a + b) // 2, a if pa <= pb and pa <= pc else b if pb <= pc else c][f]) & 255
    rows.append(line); prev = line
def count(rgb, tol=12):
    return sum(1 for line in rows for x in range(0, stride, bpp)
               if all(abs(line[x + k] - rgb[k]) <= tol for k in range(3)))
band, outside = count((0xc9, 0xe8, 0xc9)), count((0xd6, 0x20, 0x20))
print("screenshot %dx%d: %d band pixels, %d pixels of points outside the band" % (width, height, band, outside))
sys.exit(0 if band > 500 and outside > 20 else 1)
PY
echo "HTML report: $(wc -c <"$tmp/report.html") bytes, $plots plots, rendered by $("$chromium" --version 2>/dev/null)"
