# A write into /usr/bin (dropping a binary where the system's programs live).
normal() { inside "$1" /bin/touch /tmp/cache; }
attack() { inside "$1" /bin/sh -c 'echo "#!/bin/sh" > /usr/bin/update && chmod 755 /usr/bin/update'; }
