"""Shared by the comparison benchmarks (bench/*_compare.py)."""
import resource
import subprocess
import time


def timed(cmd):
    """Runs a command; returns (completed process, wall seconds, CPU seconds, max RSS of the children in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, wall, cpu, after.ru_maxrss / 1024
