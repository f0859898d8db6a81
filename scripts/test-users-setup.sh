#!/usr/bin/env bash
# Test set-up for shared folders as a user other than root (tests/integration/shares-user.itest.ts),
# for test runs as root (CI): two system-less login users, safe to run twice.
#   flotilla-share   with a block of subordinate ids (/etc/subuid, /etc/subgid), as Debian gives
#                    every new user: what a desktop user has
#   flotilla-nosub   without one: the test checks the error that says what to set up
# Needs root and the packages passwd and uidmap (scripts/system-deps.sh).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "test-users-setup: needs root" >&2; exit 1; }
for u in flotilla-share flotilla-nosub; do
  id "$u" >/dev/null 2>&1 || useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
done
grep -q '^flotilla-share:' /etc/subuid || usermod --add-subuids 300000-365535 flotilla-share
grep -q '^flotilla-share:' /etc/subgid || usermod --add-subgids 300000-365535 flotilla-share
sed -i '/^flotilla-nosub:/d' /etc/subuid /etc/subgid
echo "test-users-setup: ready (flotilla-share with subordinate ids, flotilla-nosub without)"
