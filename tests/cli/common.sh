# The start every CLI test shares: its arguments (ADAMCONF SOURCE_DIR [PYTHON]),
# a temporary directory $tmp removed at exit, and fail MESSAGE.
# usage, first thing in a test: source "$(dirname "$0")/common.sh" "$@"
set -u
adamconf=$1
src=$2
python=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
