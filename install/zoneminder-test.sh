#!/usr/bin/env bash
# zoneminder-test.sh - a real ZoneMinder for gunwatch's integration tests, benchmarks and CI:
# installs Debian's zoneminder package (1.36) if missing, starts MariaDB, apache (for the web
# console and the API at http://127.0.0.1/zm/api) and the ZoneMinder daemons without systemd,
# and keeps one test camera. Run as root. Safe to run again: a second start only checks (~1 s).
#
#   bash install/zoneminder-test.sh [start]   install if needed, start everything, test camera
#   bash install/zoneminder-test.sh stop      stop the ZoneMinder daemons and apache (not MariaDB)
#   bash install/zoneminder-test.sh status
#   bash install/zoneminder-test.sh auth on|off   ZoneMinder's OPT_USE_AUTH (login admin/admin)
#
# The test camera is monitor "gunwatch-test": an Ffmpeg source reading FEED
# (/var/lib/gunwatch-zm-test/feed.jpg) in a loop at 5 fps, 640x480, function Nodect, so it records
# only when told to (alarm API, zmu, zmtrigger on tcp 6802) and the disk stays nearly empty.
# Replace FEED atomically (write a temporary file, then mv) to change what the camera sees. Every
# picture written there must be a 640x480 baseline JPEG with 4:2:0 chroma (OpenCV's and ffmpeg's
# yuvj420p default): the capture daemon keeps its decoder across loops, and a picture with other
# chroma subsampling comes out with colour bands.
#
# Environment: ZM_WAIT_S (default 60) how long to wait for the API.
#
# Based on the approach verified in shared/recipes/zoneminder (NOTES.md there explains each
# workaround: no systemd, mariadbd refusing root, zm.conf unreadable by apache, the API's
# missing rewrite rules, admin created without API access).
set -euo pipefail

ACTION="${1:-start}"
ZM_WAIT_S="${ZM_WAIT_S:-60}"
API="http://127.0.0.1/zm/api"
FEED_DIR=/var/lib/gunwatch-zm-test
MONITOR=gunwatch-test
say() { echo "[zoneminder-test] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts system daemons)"
export DEBIAN_FRONTEND=noninteractive

sql() {
  # MariaDB root: over the socket (unix_socket auth) where that works, else TCP with no password
  # (how the project machines come).
  if mysql -uroot --connect-timeout=3 -e 'select 1' >/dev/null 2>&1; then
    mysql -uroot "$@"
  else
    mysql -uroot -h127.0.0.1 -P3306 --connect-timeout=3 "$@"
  fi
}
db_up() {
  mysqladmin -uroot --connect-timeout=2 ping >/dev/null 2>&1 ||
    mysqladmin -uroot -h127.0.0.1 -P3306 --connect-timeout=2 ping >/dev/null 2>&1
}
zm_state() { /usr/bin/zmpkg.pl status 2>/dev/null | tail -n1; }
apache_up() { [ -f /var/run/apache2/apache2.pid ] && kill -0 "$(cat /var/run/apache2/apache2.pid)" 2>/dev/null; }

case "$ACTION" in
  stop)
    if [ -x /usr/bin/zmpkg.pl ] && [ "$(zm_state)" = running ]; then
      say "stopping ZoneMinder"; /usr/bin/zmpkg.pl stop >/dev/null 2>&1 || true
    fi
    if apache_up; then say "stopping apache2"; apache2ctl stop 2>/dev/null || true; fi
    exit 0 ;;
  status)
    echo "mariadb: $(db_up && echo up || echo down)"
    echo "zoneminder: $([ -x /usr/bin/zmpkg.pl ] && zm_state || echo not-installed)"
    echo "api: HTTP $(curl -s -m 5 -o /dev/null -w '%{http_code}' "$API/host/getVersion.json" || true)"
    exit 0 ;;
  auth)
    case "${2:-}" in on) v=1 ;; off) v=0 ;; *) die "usage: $0 auth on|off" ;; esac
    # The web console and the API read Config on every request: no restart needed.
    sql zm -e "UPDATE Config SET Value='$v' WHERE Name='ZM_OPT_USE_AUTH'"
    say "auth ${2}"
    exit 0 ;;
  start) ;;
  *) die "unknown action '$ACTION' (start|stop|status|auth on|off)" ;;
esac

T0=$(date +%s)

# ------------------------------------------------------------------ packages
PKGS=(zoneminder apache2 libapache2-mod-php php-mysql ffmpeg curl)
[ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ] || PKGS+=(mariadb-server)
MISSING=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || MISSING+=("$p")
done
if ((${#MISSING[@]})); then
  say "installing ${MISSING[*]} (about a minute)"
  apt-get -o DPkg::Lock::Timeout=600 update -qq || say "apt-get update failed; trying the install anyway"
  # No systemd here: the maintainer scripts start nothing; everything is started below.
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${MISSING[@]}" \
    >/tmp/gunwatch-zm-apt.log 2>&1 || { tail -30 /tmp/gunwatch-zm-apt.log >&2; die "apt-get install failed"; }
fi

# ------------------------------------------------------------------ MariaDB
if ! db_up; then
  say "starting MariaDB"
  install -d -o mysql -g root -m 755 /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  # mariadbd refuses to run as root
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do db_up && break; sleep 0.5; done
  db_up || die "MariaDB did not come up"
fi

# ------------------------------------------------------------------ the zm database
ZM_DB_NAME=zm; ZM_DB_USER=zmuser; ZM_DB_PASS=zmpass; ZM_DB_HOST=localhost
eval "$(grep -hE '^ZM_DB_(NAME|USER|PASS|HOST)=' /etc/zm/zm.conf /etc/zm/conf.d/*.conf 2>/dev/null || true)"
if ! sql -N -e "select 1 from information_schema.tables where table_schema='$ZM_DB_NAME' and table_name='Config'" | grep -q 1; then
  say "creating database $ZM_DB_NAME"
  sql < /usr/share/zoneminder/db/zm_create.sql
fi
sql -e "
  CREATE USER IF NOT EXISTS '$ZM_DB_USER'@'localhost' IDENTIFIED BY '$ZM_DB_PASS';
  CREATE USER IF NOT EXISTS '$ZM_DB_USER'@'127.0.0.1' IDENTIFIED BY '$ZM_DB_PASS';
  GRANT ALL PRIVILEGES ON \`$ZM_DB_NAME\`.* TO '$ZM_DB_USER'@'localhost';
  GRANT ALL PRIVILEGES ON \`$ZM_DB_NAME\`.* TO '$ZM_DB_USER'@'127.0.0.1';
  FLUSH PRIVILEGES;"
# ZoneMinder's "localhost" means the unix socket; a server listening on TCP only needs 127.0.0.1.
if [ ! -S /run/mysqld/mysqld.sock ] && [ "$ZM_DB_HOST" = localhost ]; then
  echo 'ZM_DB_HOST=127.0.0.1' > /etc/zm/conf.d/03-db-host.conf
fi
# The package installs zm.conf root:root 0640; apache (www-data) must read it or /zm gives 500.
chgrp www-data /etc/zm/zm.conf /etc/zm/conf.d/*.conf 2>/dev/null || true
chmod 0640 /etc/zm/zm.conf
install -d -o www-data -g www-data /run/zm /tmp/zm /var/cache/zoneminder/events /var/cache/zoneminder/images \
  /var/cache/zoneminder/temp /var/cache/zoneminder/cache
chown www-data:root /var/log/zm 2>/dev/null || true
DBV=$(sql -N "$ZM_DB_NAME" -e "select Value from Config where Name='ZM_DYN_DB_VERSION'" 2>/dev/null || true)
PKGV=$(dpkg-query -W -f='${Version}' zoneminder | sed -E 's/^[0-9]+://; s/[+~-].*//')
if [ -n "$DBV" ] && [ "$DBV" != "$PKGV" ]; then
  say "upgrading the zm schema $DBV -> $PKGV"; zmupdate.pl --nointeractive >/dev/null
fi
SECRET=$(sql -N "$ZM_DB_NAME" -e "select Value from Config where Name='ZM_AUTH_HASH_SECRET'")
case "$SECRET" in *"Change me"*|"") SECRET="gunwatch-$(head -c12 /dev/urandom | od -An -tx1 | tr -d ' \n')" ;; esac
sql "$ZM_DB_NAME" -e "
  UPDATE Config SET Value='0' WHERE Name='ZM_SHOW_PRIVACY';        -- else every page redirects to the privacy notice
  UPDATE Config SET Value='1' WHERE Name='ZM_OPT_TRIGGERS';        -- zmtrigger.pl on tcp 6802
  UPDATE Config SET Value='0' WHERE Name='ZM_CHECK_FOR_UPDATES';
  UPDATE Config SET Value='0' WHERE Name='ZM_TELEMETRY_DATA';
  UPDATE Config SET Value='$SECRET' WHERE Name='ZM_AUTH_HASH_SECRET';
  UPDATE Users SET APIEnabled=1 WHERE Username='admin';           -- Debian's DB creates admin without API access"

# ------------------------------------------------------------------ apache
RELOAD=0
if [ ! -f /etc/apache2/conf-available/zoneminder-api.conf ]; then
  # Debian ships the CakePHP API without its .htaccess rewrite rules: /zm/api/* would be 404.
  cat > /etc/apache2/conf-available/zoneminder-api.conf <<'EOF'
# Rewrite rules of ZoneMinder's CakePHP API (the Debian package has no .htaccess files)
<Directory "/usr/share/zoneminder/www/api">
   RewriteEngine on
   RewriteRule ^$ app/webroot/ [L]
   RewriteRule (.*) app/webroot/$1 [L]
   RewriteBase /zm/api
</Directory>
<Directory "/usr/share/zoneminder/www/api/app">
   RewriteEngine on
   RewriteRule ^$ webroot/ [L]
   RewriteRule (.*) webroot/$1 [L]
   RewriteBase /zm/api
</Directory>
<Directory "/usr/share/zoneminder/www/api/app/webroot">
    RewriteEngine On
    RewriteCond %{REQUEST_FILENAME} !-d
    RewriteCond %{REQUEST_FILENAME} !-f
    RewriteRule ^ index.php [L]
    RewriteBase /zm/api
</Directory>
EOF
  RELOAD=1
fi
[ -f /etc/apache2/conf-available/servername.conf ] || { echo 'ServerName localhost' > /etc/apache2/conf-available/servername.conf; RELOAD=1; }
for c in zoneminder zoneminder-api servername; do
  [ -e "/etc/apache2/conf-enabled/$c.conf" ] || { a2enconf -q "$c" >/dev/null; RELOAD=1; }
done
for m in rewrite cgi headers expires; do
  [ -e "/etc/apache2/mods-enabled/$m.load" ] || { a2enmod -q "$m" >/dev/null; RELOAD=1; }
done
PHPMOD=$(ls /etc/apache2/mods-available/ | sed -n 's/^\(php[0-9.]*\)\.load$/\1/p' | head -n1)
if [ -n "$PHPMOD" ] && [ ! -e "/etc/apache2/mods-enabled/$PHPMOD.load" ]; then
  a2dismod -q mpm_event >/dev/null 2>&1 || true; a2enmod -q mpm_prefork "$PHPMOD" >/dev/null; RELOAD=1
fi
if apache_up; then
  [ "$RELOAD" = 0 ] || apache2ctl graceful
else
  say "starting apache2"
  apache2ctl start
fi

# ------------------------------------------------------------------ ZoneMinder
if [ "$(zm_state)" != running ]; then
  say "starting ZoneMinder"
  # what /etc/init.d/zoneminder does, without systemd
  install -d -o www-data -g www-data /run/zm /tmp/zm
  /usr/bin/zmpkg.pl start >/dev/null || die "zmpkg.pl start failed (see /var/log/zm/zmpkg.log)"
else
  /usr/bin/zmdc.pl check zmtrigger.pl 2>/dev/null | grep -q running || /usr/bin/zmdc.pl start zmtrigger.pl >/dev/null 2>&1 || true
fi

AUTH_ON=$(sql -N "$ZM_DB_NAME" -e "select Value from Config where Name='ZM_OPT_USE_AUTH'")
TOKEN=""
ok=0
for _ in $(seq 1 $((ZM_WAIT_S * 2))); do
  if [ "$AUTH_ON" = 1 ]; then
    TOKEN=$(curl -s -m 5 -X POST "$API/host/login.json" -d user=admin -d pass=admin |
            sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$TOKEN" ] && curl -sf -m 5 "$API/host/getVersion.json?token=$TOKEN" | grep -q '"version"' && { ok=1; break; }
  else
    curl -sf -m 5 "$API/host/getVersion.json" | grep -q '"version"' && { ok=1; break; }
  fi
  sleep 0.5
done
[ "$ok" = 1 ] || die "the API did not answer within ${ZM_WAIT_S}s (see /var/log/apache2/error.log, /var/log/zm/)"
[ "$(zm_state)" = running ] || die "ZoneMinder daemons are not running (see /var/log/zm/zmpkg.log)"

# ------------------------------------------------------------------ the test camera
install -d -m 755 "$FEED_DIR"
if [ ! -s "$FEED_DIR/feed.jpg" ]; then
  ffmpeg -nostdin -y -loglevel error -f lavfi -i testsrc=size=640x480:rate=1 -frames:v 1 \
    -pix_fmt yuvj420p "$FEED_DIR/.feed.jpg"
  chmod 644 "$FEED_DIR/.feed.jpg"; mv "$FEED_DIR/.feed.jpg" "$FEED_DIR/feed.jpg"
fi
Q=""; [ -z "$TOKEN" ] || Q="?token=$TOKEN"
if ! sql -N "$ZM_DB_NAME" -e "select Id from Monitors where Name='$MONITOR'" | grep -q .; then
  say "creating monitor $MONITOR"
  curl -sf -m 20 -X POST "$API/monitors.json$Q" \
    -d "Monitor[Name]=$MONITOR" -d 'Monitor[Function]=Nodect' -d 'Monitor[Enabled]=1' \
    -d 'Monitor[Type]=Ffmpeg' -d "Monitor[Path]=$FEED_DIR/feed.jpg" -d 'Monitor[Options]=loop=1,framerate=5' \
    -d 'Monitor[Width]=640' -d 'Monitor[Height]=480' -d 'Monitor[Colours]=4' \
    -d 'Monitor[MaxFPS]=5' -d 'Monitor[AlarmMaxFPS]=5' -d 'Monitor[SaveJPEGs]=3' -d 'Monitor[VideoWriter]=0' \
    -d 'Monitor[PreEventCount]=2' -d 'Monitor[PostEventCount]=3' -d 'Monitor[MinSectionLength]=2' \
    >/dev/null || die "could not create monitor $MONITOR"
fi
MID=$(sql -N "$ZM_DB_NAME" -e "select Id from Monitors where Name='$MONITOR'")
fps=""
for _ in $(seq 1 60); do
  if [ "$AUTH_ON" = 1 ]; then fps=$(zmu -m "$MID" -f -U admin -P admin 2>/dev/null || true)
  else fps=$(zmu -m "$MID" -f 2>/dev/null || true); fi
  case "$fps" in *"capture: 0.00"*|"") sleep 0.5 ;; *) break ;; esac
done
say "ready in $(($(date +%s) - T0))s: $API, auth=$AUTH_ON, monitor $MONITOR id=$MID ($fps), feed $FEED_DIR/feed.jpg"
