"""A visitor without a browser, for the benchmark's `crowd` mode: it speaks Streamlit's own
WebSocket protocol (the BackMsg and ForwardMsg protobufs its browser client sends and receives),
asks for a page's run as the browser does, and reads the server's answer until the run ends.
It puts on the server the load of a visitor whose browser runs on their own machine, which on
this one machine five real browsers cannot do (they take over 90% of its two cores)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

STREAM = "/_stcore/stream"
RUN_ENDED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_SUCCESSFULLY")
RUN_RESTARTED = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")   # st.rerun: another run follows


@dataclass
class Answer:
    seconds: float    # from the request to the end of the run's last message
    deltas: int       # elements sent (a page's result: its texts, images, charts, widgets)
    exceptions: int   # exceptions the page showed


class ProtocolVisitor:
    """One Streamlit session over one WebSocket: `open(page)` runs a page as the sidebar's link
    does (a fresh connection per visitor, like a tab that opens the app)."""

    def __init__(self, url: str, timeout_s: float = 120.0):
        self.timeout_s = timeout_s
        # entered as a context manager, as websockets asks (closed by close())
        self.socket = connect(url.replace("http", "ws", 1) + STREAM, subprotocols=["streamlit"], max_size=None,
                              open_timeout=timeout_s).__enter__()

    def open(self, page: str) -> Answer:
        """Runs `page` (its URL path: "" for home, "anomaly", ...) and waits until the run has ended."""
        request = BackMsg()
        request.rerun_script.page_name = page
        request.rerun_script.query_string = ""
        started = time.perf_counter()
        self.socket.send(request.SerializeToString())
        deltas = exceptions = 0
        while True:
            message = ForwardMsg()
            message.ParseFromString(self.socket.recv(timeout=self.timeout_s))
            kind = message.WhichOneof("type")
            if kind == "delta":
                deltas += 1
                exceptions += message.delta.WhichOneof("type") == "new_element" and \
                    message.delta.new_element.WhichOneof("type") == "exception"
            elif kind == "script_finished" and message.script_finished == RUN_ENDED:
                return Answer(time.perf_counter() - started, deltas, exceptions)
            elif kind == "script_finished" and message.script_finished != RUN_RESTARTED:
                raise RuntimeError(f"the run of {page or 'home'!r} ended with "
                                   f"{ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)}")

    def close(self) -> None:
        self.socket.__exit__(None, None, None)

    def __enter__(self) -> ProtocolVisitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
