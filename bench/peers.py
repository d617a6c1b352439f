"""Shared by the comparison benchmarks (bench/*_compare.py)."""
import os
import shutil
import subprocess
import tempfile
import time


def timed(cmd):
    """Runs a command; returns (completed process, wall seconds, CPU seconds, max RSS in MiB) of this command
    alone. GNU time (Debian's `time`) measures it: a child forked from this Python process would otherwise count
    Python's own pages, touched before the exec, in its max RSS."""
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r") as report:
        wrapped = [gnu_time, "-f", "%U %S %M", "-o", report.name, *cmd] if gnu_time else list(cmd)
        t = time.perf_counter()
        p = subprocess.run(wrapped, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t
        fields = report.read().split()[-3:] if gnu_time else []
    if len(fields) == 3:
        user, system, kib = fields
        return p, wall, float(user) + float(system), int(kib) / 1024
    return p, wall, float("nan"), float("nan")
