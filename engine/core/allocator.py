"""The C allocator of a long-running server: large blocks go back to the system when freed.

glibc serves a block of at least its "mmap threshold" (128 KiB at start) with a mapping of its
own, returned to the system on free. But each time such a block is freed, glibc raises the
threshold to that block's size (up to 32 MiB), so that from then on images, codes and model
buffers of a few MiB are carved out of its arenas instead, one arena per thread that allocates
while another holds one (Streamlit runs each visitor's script in a thread of its own). What is
freed there stays with the process wherever a small block still lives above it: after ten
visitors the server kept 21-27% more than when warm (issue 22's load), though nothing held it.

Fixing the threshold where it starts stops that: every large block is mapped and unmapped,
whatever thread frees it. With it, ten visitors of ten rounds each left the server 9.7% above its
warm level (27% before), its peak fell from 1,100 to 916 MB, and its answers were no slower
(p50 4.30 s against 4.47 s). Unlike the number of arenas, which glibc fixes once more than eight
threads have allocated (before the app's first line runs under Streamlit), the threshold can be
set at any time.

The app's server sets it (streamlit_app.py), for the whole process: the studio's training jobs,
threads of the server, run under it too, and pay for it, since every tensor above the threshold
is then mapped afresh: `python -m engine train convolutional --data digits28 --epochs 2` took
26-28 s with MALLOC_MMAP_THRESHOLD_=131072 against 22-23 s without (25 s at 4 MiB).
`python -m engine train` and other commands, processes of their own, leave glibc's default.
"""
from __future__ import annotations

import ctypes
import functools
import platform

M_MMAP_THRESHOLD = -3          # glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024    # glibc's own starting value, kept from then on


@functools.cache
def return_large_blocks_to_the_system() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD for this process (once; later calls answer
    the same). True when it was set; False where the C library is not glibc or refuses."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
