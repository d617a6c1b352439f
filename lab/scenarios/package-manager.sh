# A package manager run at run time: apt-get fetches the package lists and installs a tool into the
# running web container (an immutable container never does this).
IMAGE=web
normal() { web_traffic "http://127.0.0.1:$WEB_PORT/" 40; }
attack() {
  inside "$1" /bin/sh -c 'apt-get -o Acquire::http::Timeout=10 -o Acquire::Retries=0 update -qq;
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends netcat-traditional' \
    >/dev/null 2>&1 || true
}
