"""The VAE generation page's Map tab: held-out digits placed by their codes; a click decodes
one. The page hands in its cached data and model calls."""
from collections.abc import Callable

import numpy as np
import streamlit as st

from app_pages.display import enlarge
from app_pages.logic import generate as logic


def map_tab(
    held_out: Callable[[int], tuple[np.ndarray, np.ndarray]],
    held_out_codes: Callable[[str], np.ndarray],
    map_points: Callable[[str], tuple[np.ndarray, float | None]],
    decode: logic.Decode,
    family: logic.Family = logic.DIGITS,
) -> None:
    """The tab; `held_out(count, family)` gives held-out pictures and their labels,
    `held_out_codes(model)` their codes, and `map_points(model)` those codes in 2-D with the share
    of variance kept."""
    which = ("digits, in fonts no model trained on," if family is logic.DIGITS
             else "pictures of Fashion-MNIST's test set, which no model trained on,")
    st.markdown(
        f"{logic.HELD_OUT:,} held-out {which} placed by their codes and "
        f"coloured by the {family.kind} they are. The 2-number model's "
        "codes are the map itself; a "
        "16-number model's codes are flattened to 2-D by PCA, which keeps only part of their "
        "spread. **Click a point** to decode its code. The wheel zooms, a drag pans and a double-click "
        f"shows the whole map; a click on a {family.kind} in the legend shows it alone."
    )
    model = st.selectbox(
        "Model",
        family.unconditional,
        index=family.unconditional.index(family.two_d),
        format_func=logic.MODEL_LABELS.get,
        key=logic.widget_key(family, "map_model"), bind="query-params",
        persist_state="page",
    )
    images, labels = held_out(logic.HELD_OUT, family.key)
    points, kept = map_points(model)
    members = logic.members_by_digit(labels, len(family.classes))
    chart = logic.map_chart(points, members, projected=kept is not None, family=family)
    chart_col, detail_col = st.columns([3, 1], gap="large")
    with chart_col:
        event = st.altair_chart(chart, on_select="rerun", selection_mode=logic.MAP_PICK, key=f"map_chart_{model}")
        if kept is not None:
            size = held_out_codes(model).shape[1]
            st.caption(f"PCA keeps {kept:.0%} of the spread of the {size}-number codes.")
    with detail_col:
        index = logic.selected_point(event.selection, len(images))
        if index is None:
            st.info(f"Click a point on the map to see the {family.noun} and what its code decodes to.")
            return
        decoded = decode(held_out_codes(model)[index][None], model)[0]
        original = f"Held-out {family.noun} #{index}: {'a ' if family is logic.DIGITS else ''}{family.name(labels[index])}"
        st.image(enlarge(images[index], 5), caption=original, width=140, output_format="PNG")
        st.image(enlarge(decoded, 5), caption="Decoded from its code (the mean)", width=140, output_format="PNG")
        if kept is not None:
            st.caption("The full 16-number code is decoded, not its 2-D shadow on the map.")
