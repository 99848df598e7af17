"""The Colorization page's hint mode: the user clicks on the photo to place colour points, picks
their colours (or takes the colour the model proposes there), moves, recolours, removes and
undoes them, and downloads or loads them with the photo. The points of each photo live in the
session, so switching photos or modes loses nothing."""
import streamlit as st

from app_pages.logic import colorize as logic
from app_pages.text import file_stem, plain

POINTS = "hint_points"  # session state: {photo key: [Hint, ...]}
HISTORY = "hint_history"  # session state: {photo key: [earlier point lists]}, for undo
LAST_CLICK = "hint_last_click"  # the click already taken: the component repeats its last value on every rerun
ADD, MOVE = "adds a point", "moves the selected point"
UNDO_STEPS = 50  # changes that can be undone, per photo


@st.cache_data(max_entries=8, show_spinner=False)
def _click_base(image):
    return logic.click_base(image)


def points(key: str) -> list[logic.Hint]:
    """The points placed on the photo `key`, in the photo's own pixels."""
    return list(st.session_state.setdefault(POINTS, {}).get(key, []))


def _set(key: str, hints: list[logic.Hint]) -> None:
    history = st.session_state.setdefault(HISTORY, {}).setdefault(key, [])
    history.append(points(key))
    del history[:-UNDO_STEPS]
    st.session_state[POINTS][key] = list(hints)


def _undo(key: str) -> None:
    history = st.session_state.setdefault(HISTORY, {}).get(key, [])
    if history:
        st.session_state[POINTS][key] = history.pop()


def _clicked(key: str, click: dict | None, shape: tuple[int, int], shown, colour: str, propose: bool,
             action: str, selected: int | None) -> bool:
    """Take a new click on the picture: add a point there or move the selected one. True when
    the points changed."""
    if click is None or click == st.session_state.get(LAST_CLICK):
        return False
    st.session_state[LAST_CLICK] = click
    pixel = logic.click_pixel(click, shape)
    if pixel is None:
        return False
    hints = points(key)
    if action == MOVE and selected is not None:
        hints[selected] = logic.Hint(*pixel, hints[selected].colour)
        _set(key, hints)
        return True
    return _add(key, logic.Hint(*pixel, logic.colour_at(shown, *pixel, shape) if propose else colour))


def _add(key: str, hint: logic.Hint) -> bool:
    """Add a point to the photo `key`, unless it has MAX_HINTS already (then say so). True when added."""
    hints = points(key)
    if len(hints) >= logic.MAX_HINTS:
        st.warning(f"A photo takes at most {logic.MAX_HINTS} points.")
        return False
    _set(key, [*hints, hint])
    return True


def add_by_coordinates(key: str, shape: tuple[int, int], colour: str) -> None:
    """Placing a point by typing its position: for keyboards, and exact positions."""
    y_col, x_col, add_col = st.columns([1, 1, 1], vertical_alignment="bottom")
    x = x_col.number_input("x (from the left)", 0, shape[1] - 1, shape[1] // 2, key="hint_x")
    y = y_col.number_input("y (from the top)", 0, shape[0] - 1, shape[0] // 2, key="hint_y")
    if add_col.button("Add point", key="hint_add", icon=":material/add_location:") and \
            _add(key, logic.Hint(int(y), int(x), colour)):
        st.rerun()


def _edit_selected(key: str, hints: list[logic.Hint], selected: int) -> None:
    recolour_col, remove_col = st.columns([2, 1], vertical_alignment="bottom")
    new_colour = recolour_col.color_picker(f"Colour of point {selected + 1}", hints[selected].colour,
                                           key=f"hint_recolour_{key}_{selected}_{hints[selected].colour}")
    if new_colour.lower() != hints[selected].colour:
        hints[selected] = logic.Hint(hints[selected].y, hints[selected].x, new_colour.lower())
        _set(key, hints)
        st.rerun()
    if remove_col.button("Remove", key="hint_remove", icon=":material/delete:"):
        _set(key, hints[:selected] + hints[selected + 1:])
        st.rerun()


def _files(key: str, hints: list[logic.Hint], name: str, shape: tuple[int, int]) -> None:
    stem = file_stem(name, "photo")
    st.download_button("Download the points (JSON)", logic.hints_file(hints, name, shape),
                       file_name=f"{stem}_points.json", mime="application/json", on_click="ignore",
                       icon=":material/download:", key="hint_download", disabled=not hints)
    loaded = st.file_uploader("Load points saved for this photo", type=["json"], key=f"hint_file_{key}",
                              max_upload_size=1)
    if loaded is not None and st.session_state.get("hint_loaded") != (key, loaded.file_id):
        try:
            new = logic.load_hints(loaded.getvalue(), shape)
        except ValueError as error:
            # the message may quote the file's own content
            st.error(f"Could not load {plain(repr(loaded.name))}: {plain(error)}", icon=":material/error:")
            return
        st.session_state["hint_loaded"] = (key, loaded.file_id)
        _set(key, new)
        st.rerun()


def hint_panel(key: str, name: str, result, click_picture) -> None:
    """Everything of the hint mode above the result panels. `result` is the comparison with the
    current points (8-bit images); `click_picture(image, key)` shows a picture and returns the
    last click on it (the page's component), or None."""
    shape = tuple(result.shape)
    shown = result.hinted if result.hinted is not None else result.colorized
    hints = points(key)
    picture_col, controls_col = st.columns([3, 2], gap="large")
    with controls_col:
        colour = st.color_picker("Colour of new points", "#d62728", key="hint_colour")
        propose = st.toggle("Take the colour the model shows there instead", key="hint_propose",
                            help="A new point then keeps the colour the picture has where you click; "
                                 "change it below if it is wrong.")
        selected = None
        if hints:
            selected = st.selectbox("Selected point", range(len(hints)), index=len(hints) - 1,
                                    format_func=lambda i: f"{i + 1}: x={hints[i].x}, y={hints[i].y}, {hints[i].colour}",
                                    key=f"hint_selected_{key}_{len(hints)}")
        action = st.radio("A click on the photo", [ADD, MOVE] if hints else [ADD], horizontal=True, key="hint_action")
    with picture_col:
        st.caption(f"Click on the photo to place a point ({len(hints)} placed). The picture shows the colours "
                   "from your points; it updates after each click.")
        click = click_picture(logic.with_marks(_click_base(shown), hints, shape, selected), f"hint_picture_{key}")
    if _clicked(key, click, shape, shown, colour, propose, action, selected):
        st.rerun()
    with controls_col:
        if selected is not None:
            _edit_selected(key, hints, selected)
        undo_col, clear_col = st.columns(2)
        history = st.session_state.get(HISTORY, {}).get(key, [])
        if undo_col.button("Undo", key="hint_undo", icon=":material/undo:", disabled=not history):
            _undo(key)
            st.rerun()
        if clear_col.button("Clear all", key="hint_clear", icon=":material/clear_all:", disabled=not hints):
            _set(key, [])
            st.rerun()
        with st.expander("Place a point by its position"):
            add_by_coordinates(key, shape, colour)
        if hints:
            st.dataframe(logic.hints_table(hints), hide_index=True, height=min(300, 38 + 35 * len(hints)))
        _files(key, hints, name, shape)
