# Command injection through the app: the notes service's disk-usage report puts the directory it is asked for
# into a shell command unchecked (`du -sk /srv/app/DIR`). Its ordinary traffic runs that report now and then,
# so the app starting a shell that starts `du` is normal; the attacker's request appends `;id;cat
# /etc/passwd;uname -a` — nothing is run through the runtime, the attack comes in through the app (T1190, T1059.004).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() { app_inject "$WEB_PORT" 'id;cat /etc/passwd;uname -a'; }
