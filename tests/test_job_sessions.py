"""How the pages tell the engine whether a job's visitor is still there: their Streamlit session
is connected, or was disconnected for less than the time Streamlit keeps it for them to come back."""
from types import SimpleNamespace

import streamlit as st

from app_pages import common


class FakeRuntime:
    """Streamlit's Runtime as the checker sees it: sessions connected now."""

    connected: set[str] = set()
    running = True

    @classmethod
    def exists(cls) -> bool:
        return cls.running

    @classmethod
    def instance(cls):
        return SimpleNamespace(is_active_session=lambda session_id: session_id in cls.connected)


def test_a_visitor_is_there_while_connected_and_until_their_session_expires(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(common, "Runtime", FakeRuntime)
    monkeypatch.setattr(common, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(FakeRuntime, "connected", {"visitor"})
    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    alive = common.session_alive("visitor")
    assert alive()
    FakeRuntime.connected.clear()            # a network blip, or the tab closed
    assert alive()
    clock[0] += ttl - 1
    assert alive()                           # Streamlit still keeps the session for them
    FakeRuntime.connected.add("visitor")     # they came back
    clock[0] += 5
    assert alive()
    FakeRuntime.connected.clear()
    assert alive()
    clock[0] += ttl - 1
    assert alive()                           # the time counts from the last disconnection
    clock[0] += 2
    assert not alive()                       # the session has expired: nobody will see this run


def test_with_no_streamlit_server_there_is_nobody_to_ask(monkeypatch):
    monkeypatch.setattr(common, "Runtime", FakeRuntime)
    monkeypatch.setattr(FakeRuntime, "running", False)
    assert common.session_alive("anyone")()
