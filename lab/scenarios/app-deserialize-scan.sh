# Insecure deserialisation in the app (see app-deserialize-exfil), the code looking around for what to attack next
# (T1046): connections from the app's own process to the usual ports of the services a cluster runs — SSH, DNS,
# databases, caches, Docker's and the Kubernetes API, the kubelet, etcd — on the loopback (the container shares the
# host's network), each given a fraction of a second. Most are refused; nothing is sent, no shell, no program.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import socket
for port in (22, 25, 53, 80, 443, 2375, 2376, 2379, 3306, 5432, 6379, 6443, 8080, 9200, 10250, 10255, 11211, 27017):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
    except OSError:
        pass"
}
