#!/bin/sh
#
# stress/expect-violation.sh - run a command that must FAIL because it
# found a violation: the mutation checks of iovamap-stress.
#
# Usage: expect-violation.sh PATTERN COMMAND [ARG...]
#
# Passes (exit 0) only when COMMAND exits non-zero AND its output (stdout
# and stderr) has a line matching the extended regular expression PATTERN
# (iovamap-stress prints "VIOLATION [kind] ..." the moment it finds one;
# AddressSanitizer prints "ERROR: AddressSanitizer: heap-use-after-free").
# A command that passes, or fails without such a line (a crash for another
# reason, a bad command line), fails this check.  The matching lines are
# shown either way.
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 PATTERN COMMAND [ARG...]" >&2
	exit 2
fi
pattern=$1
shift
log=$(mktemp "${TMPDIR:-/tmp}/expect-violation.XXXXXX") || exit 2
trap 'rm -f "$log"' EXIT

"$@" >"$log" 2>&1
rc=$?
found=$(grep -E -m 5 -e "$pattern" "$log")

if [ "$rc" -ne 0 ] && [ -n "$found" ]; then
	echo "caught (exit status $rc):"
	printf '%s\n' "$found"
	exit 0
fi
if [ "$rc" -eq 0 ]; then
	echo "NOT caught: the command passed (exit status 0); its output:"
else
	echo "NOT caught: exit status $rc but no line matches /$pattern/; its output:"
fi
tail -n 40 "$log"
exit 1
