"""Checks that two kestrel JSON SBOMs of one image agree: the same purls and the same image id.

    python3 bench/same_purls.py A.json B.json "podman: and the archive"
"""
import json
import sys

a, b = (json.load(open(p)) for p in sys.argv[1:3])
pa, pb = ({p["purl"] for p in d["packages"]} for d in (a, b))
assert pa == pb, (len(pa), len(pb), sorted(pa ^ pb)[:10])
assert a["target"]["image_id"] == b["target"]["image_id"], (a["target"]["image_id"], b["target"]["image_id"])
print(f"{sys.argv[3]}: {len(pa)} packages, the same purls; image {a['target']['image_id'][:19]}")
