"""tune_gc: the start-up heap frozen out of the collector's sight, the youngest generation
collected at the configured threshold, and cycles still collected."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import gc
from herald.runtime import tune_gc

before = gc.get_freeze_count()
tune_gc(12345)
young, *older = gc.get_threshold()
print(before, gc.get_freeze_count() > 1000, young, older == [10, 10])

class Node:
    pass

node = Node()
node.me = node
del node
print(gc.collect() >= 1)
"""


def test_tune_gc_freezes_the_start_up_heap_and_sets_the_young_threshold() -> None:
    # In a process of its own: freezing is for the life of the process.
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["0", "True", "12345", "True", "True"]
