"""One line per command of a hyperfine --export-json file: its mean and standard deviation in milliseconds."""
import json
import sys

for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']:18} {r['mean']*1000:7.0f} ms ± {r['stddev']*1000:.0f}")
