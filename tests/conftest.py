"""Shared for every test file."""
import ast
import threading

import pytest


@pytest.fixture(autouse=True)
def one_parse_at_a_time(monkeypatch):
    """CPython 3.11's ast.parse is not thread-safe (a SystemError, 'AST constructor recursion
    depth mismatch'): AppTest parses the page script on every run (a server parses it once),
    while a page's background job may parse source in its own thread as it exports to ONNX."""
    lock, parse = threading.RLock(), ast.parse

    def serialized(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", serialized)
