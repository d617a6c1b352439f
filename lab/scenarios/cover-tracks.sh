# Covering tracks in a web container: after nginx served ordinary requests (its access log holds them), the
# attacker empties the access log in place with coreutils' truncate — an open without O_TRUNC and an
# ftruncate to 0, no shell, no removal — so the requests that got them in are gone (T1070.002).
IMAGE=web
normal() { web_traffic "http://127.0.0.1:$WEB_PORT/" 40; }
attack() { inside "$1" /usr/bin/truncate -s 0 /var/log/nginx/access.log; }
