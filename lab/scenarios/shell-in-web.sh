# A shell spawned in a web container: nginx serves ordinary requests, then a shell runs what an attacker
# who got a foothold runs first (id, uname, reading /etc/passwd, listing the web root).
IMAGE=web
normal() { web_traffic "http://127.0.0.1:$WEB_PORT/" 40; }
attack() { inside "$1" /bin/sh -c 'id; uname -a; cat /etc/passwd; ls -la /var/www/html' >/dev/null; }
