"""One line describing the machine a benchmark ran on (quoted next to its numbers)."""

import os
import platform
from pathlib import Path


def describe(threads: int) -> str:
    cpu = platform.processor() or "CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, {platform.machine()}, torch threads {threads}"
