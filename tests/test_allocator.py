"""The app server's C allocator setting (engine/core/allocator.py), in a process of its own:
the setting is for the whole process."""
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core import allocator

ROOT = Path(__file__).resolve().parents[1]

# After an 8 MiB block is freed, glibc serves a 1 MiB block from its arena (its threshold rose to
# 8 MiB) unless the threshold is fixed: then it maps it. mallinfo2's hblks counts mapped blocks.
CHILD = """
import ctypes, sys
from engine.core import allocator

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    assert allocator.return_large_blocks_to_the_system() and allocator.return_large_blocks_to_the_system()
libc.free(libc.malloc(8 << 20))
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(block)
"""

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")


def mapped_after_a_larger_free(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@glibc
def test_a_large_block_is_mapped_after_a_larger_one_was_freed():
    assert mapped_after_a_larger_free("default") == 0   # glibc's own rule: into the arena
    assert mapped_after_a_larger_free("fixed") == 1


def test_without_glibc_nothing_is_set(monkeypatch):
    allocator.return_large_blocks_to_the_system.cache_clear()
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    try:
        assert allocator.return_large_blocks_to_the_system() is False
    finally:
        allocator.return_large_blocks_to_the_system.cache_clear()
