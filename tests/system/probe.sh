#!/bin/bash
# The system test's checks, run as root by payguard-probe.service inside a minimal Debian 12 booted
# under systemd. tests/system.rs puts the package, the config and the secret in /probe and reads
# the outcome from /out: a line "pass NAME" or "fail NAME" in /out/checks for each check (NAME is
# its function below), what shows why in /out/NAME.log for each failure, and /out/finished once
# every check ran.
set -u
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8

OUT=/out
SECRET=$(cat /probe/simplefin-url)
# The password of the access URL scheme://user:password@host/…, which must not leak on its own either.
PASSWORD=${SECRET#*://}
PASSWORD=${PASSWORD%%@*}
PASSWORD=${PASSWORD#*:}

show() { systemctl show payguard --value -p "$1"; }

# The cursor of the newest journal entry: what a wait below looks after.
cursor() { journalctl -n 1 -o export | sed -n 's/^__CURSOR=//p'; }

# wait_for CURSOR PATTERN SECONDS [COUNT]: whether COUNT (default 1) lines of payguard's journal
# after CURSOR match the extended regex PATTERN within SECONDS.
wait_for() {
  local seen
  seen=$(timeout "$3" journalctl -u payguard -f -o cat --after-cursor="$1" | grep -c -m "${4:-1}" -E "$2")
  [ "$seen" -ge "${4:-1}" ]
}

evidence() {
  echo '--- systemctl status payguard'
  systemctl status payguard --no-pager -l 2>&1 | head -n 12
  echo '--- journalctl -u payguard (the last 40 lines)'
  journalctl -u payguard --no-pager -n 40 -o short-monotonic 2>&1
}

# check NAME: runs the function NAME, which says why on its output when it fails.
check() {
  local why
  if why=$("$1" 2>&1); then
    echo "pass $1" >> "$OUT/checks"
  else
    echo "fail $1" >> "$OUT/checks"
    { echo "$why"; evidence; } > "$OUT/$1.log"
  fi
}

installs_from_the_deb() {
  apt-get install -y ./probe/payguard.deb > "$OUT/apt.log" 2>&1 || {
    echo 'apt-get install ./payguard.deb failed:'
    tail -n 20 "$OUT/apt.log"
    return 1
  }
  [ -x /usr/bin/payguard ] || { echo 'the package installed no /usr/bin/payguard'; return 1; }
  [ "$(systemctl is-enabled payguard 2>&1)" = disabled ] || {
    echo "payguard.service should be installed and disabled: $(systemctl is-enabled payguard 2>&1)"
    return 1
  }
}

depends_on_ca_certificates() {
  local depends
  depends=$(dpkg-deb -f /probe/payguard.deb Depends)
  case "$depends" in
    *ca-certificates*) ;;
    *) echo "the package's Depends lacks ca-certificates: $depends"; return 1 ;;
  esac
  dpkg-query -W -f='${Status}' ca-certificates | grep -q 'install ok installed' ||
    { echo 'apt did not install ca-certificates with the package'; return 1; }
}

# The README's setup: the config readable by the service, the secret only by root, handed over
# with LoadCredential= in a drop-in.
configure() {
  install -d -m 0755 /etc/payguard
  install -m 0644 /probe/payguard.toml /etc/payguard/payguard.toml
  install -m 0600 /probe/simplefin-url /etc/payguard/simplefin-url
  install -D -m 0644 /probe/credential.conf /etc/systemd/system/payguard.service.d/credential.conf
  systemctl daemon-reload
}

starts_as_notify_with_a_status_line() {
  systemctl start payguard || { echo 'systemctl start payguard failed'; return 1; }
  local type state status
  type=$(show Type)
  state="$(show ActiveState)/$(show SubState)"
  status=$(show StatusText)
  [ "$type" = notify ] || { echo "Type=$type, not notify"; return 1; }
  [ "$state" = active/running ] || { echo "the unit is $state, not active/running"; return 1; }
  case "$status" in
    *'1 accounts'*'next poll'*) ;;
    *) echo "StatusText is \"$status\", not \"1 accounts, … next poll …\""; return 1 ;;
  esac
}

the_theft_reaches_the_journal() {
  wait_for "$STARTED" 'paid to a new payee: (QuickCash Transfer|GiftCard Hub|Crypto Swap Ltd)' 60 ||
    { echo 'no new_payee alert for the theft in the journal within 60 s'; return 1; }
}

status_works_from_a_root_shell() {
  local out code=0
  out=$(payguard status 2>&1) || code=$?
  [ "$code" -eq 0 ] || { echo "payguard status exited $code:"; echo "$out"; return 1; }
  # The daemon's view: the source polled and the account watched.
  case "$out" in
    *'sim-bank (simplefin): ok'*ACT-1*) ;;
    *) echo 'payguard status does not show sim-bank polled ok and the account ACT-1:'; echo "$out"; return 1 ;;
  esac
}

state_is_private_to_a_dynamic_user() {
  local pid uid mode owner loose
  pid=$(show MainPID)
  uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status")
  # systemd's DynamicUser= range.
  if ! { [ -n "$uid" ] && [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ]; }; then
    echo "payguard (pid $pid) runs as uid '$uid', not a dynamic user"
    return 1
  fi
  mode=$(stat -c %a /var/lib/private/payguard) || return 1
  owner=$(stat -c %u /var/lib/private/payguard)
  [ "$mode" = 700 ] || { echo "the state directory is $mode, not 700"; return 1; }
  [ "$owner" = "$uid" ] || { echo "the state directory belongs to uid $owner, not the service's $uid"; return 1; }
  [ "$(readlink /var/lib/payguard)" = private/payguard ] ||
    { echo "/var/lib/payguard is not the link to private/payguard: $(ls -ld /var/lib/payguard)"; return 1; }
  loose=$(find /var/lib/private/payguard -perm /077 -exec ls -ld {} +)
  [ -z "$loose" ] || { echo 'group or others have access to:'; echo "$loose"; return 1; }
  [ -n "$(ls -A /var/lib/private/payguard)" ] || { echo 'the state directory is empty: no store was written'; return 1; }
}

bad_reload_fails_and_says_why() {
  sed 's/^schedule =/shedule =/' /probe/payguard.toml > /etc/payguard/payguard.toml
  local status
  if systemctl reload payguard > "$OUT/bad-reload.out" 2>&1; then
    echo 'systemctl reload succeeded with a broken config'
    return 1
  fi
  wait_for "$BAD_RELOAD" 'payguard\.toml:[0-9]+:[0-9]+.*shedule' 15 || {
    echo 'the journal does not name the mistake (payguard.toml:LINE:COLUMN … shedule); systemctl reload said:'
    cat "$OUT/bad-reload.out"
    return 1
  }
  status=$(show StatusText)
  case "$status" in
    *'reload failed'*) ;;
    *) echo "StatusText is \"$status\", it does not say the reload failed"; return 1 ;;
  esac
}

a_bad_reload_keeps_the_old_config() {
  local state pid
  state=$(show ActiveState)
  pid=$(show MainPID)
  [ "$state" = active ] || { echo "the unit is $state after a bad reload"; return 1; }
  [ "$pid" = "$PID" ] || { echo "payguard was restarted (pid $PID, now $pid)"; return 1; }
  wait_for "$BAD_RELOAD" 'poll done' 20 3 || { echo 'polls stopped after the bad reload'; return 1; }
}

a_good_reload_applies() {
  cat /probe/payguard.toml /probe/second-source.toml > /etc/payguard/payguard.toml
  local mark status
  mark=$(cursor)
  systemctl reload payguard > "$OUT/good-reload.out" 2>&1 ||
    { echo 'systemctl reload failed with a good config:'; cat "$OUT/good-reload.out"; return 1; }
  wait_for "$mark" 'configuration reloaded' 15 || { echo 'no "configuration reloaded" in the journal'; return 1; }
  wait_for "$mark" 'poll done.*sim-bank-2' 20 || { echo 'the source the reload added is not polled'; return 1; }
  status=$(show StatusText)
  case "$status" in
    *'reload failed'*) echo "StatusText still says \"$status\""; return 1 ;;
    *'2 accounts'*) ;;
    *) echo "StatusText is \"$status\", not \"2 accounts, …\""; return 1 ;;
  esac
  [ "$(show MainPID)" = "$PID" ] || { echo 'payguard was restarted, not reloaded'; return 1; }
}

stops_cleanly() {
  systemctl stop payguard || { echo 'systemctl stop payguard failed'; return 1; }
  local state result code status
  state=$(show ActiveState)
  result=$(show Result)
  code=$(show ExecMainCode)
  status=$(show ExecMainStatus)
  [ "$state" = inactive ] || { echo "the unit is $state after stop, not inactive"; return 1; }
  [ "$result" = success ] || { echo "Result=$result, not success"; return 1; }
  # ExecMainCode 1 is CLD_EXITED: payguard exited by itself rather than being killed.
  [ "$code/$status" = 1/0 ] || { echo "payguard ended with code $code, status $status, not an exit with 0"; return 1; }
}

the_secret_never_reaches_the_journal() {
  local leaks
  # Every field of every entry, not only the messages.
  leaks=$(journalctl --no-pager -o verbose | grep -n -F -e "$SECRET" -e "$PASSWORD")
  [ -z "$leaks" ] || { echo 'the access URL or its password is in the journal:'; echo "$leaks"; return 1; }
}

cd / || exit 1
check installs_from_the_deb
if ! [ -x /usr/bin/payguard ]; then
  # Nothing else can be checked; tests/system.rs reports the rest as not run.
  echo 'done' > "$OUT/finished"
  exit 0
fi
check depends_on_ca_certificates
# Without CA certificates the service cannot even build its HTTP client: install them from the
# image's apt cache, so the checks below test the service rather than the missing dependency.
dpkg-query -W -f='${Status}' ca-certificates | grep -q 'install ok installed' ||
  apt-get install -y ca-certificates >> "$OUT/apt.log" 2>&1
configure
STARTED=$(cursor)
check starts_as_notify_with_a_status_line
check the_theft_reaches_the_journal
check status_works_from_a_root_shell
check state_is_private_to_a_dynamic_user
PID=$(show MainPID)
BAD_RELOAD=$(cursor)
check bad_reload_fails_and_says_why
check a_bad_reload_keeps_the_old_config
check a_good_reload_applies
check stops_cleanly
check the_secret_never_reaches_the_journal
echo 'done' > "$OUT/finished"
