# Reads "a<TAB>b" lines; prints -1, 0, 1, or "invalid" per line, using the `packaging` library (pip's own).
import sys
from packaging.version import Version, InvalidVersion

out = []
for line in sys.stdin.read().splitlines():
    a, b = line.split("\t", 1)
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        out.append("invalid")
        continue
    out.append(str((x > y) - (x < y)))
print("\n".join(out))
