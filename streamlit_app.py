"""Autoencoder Playground: the entry point. Run with `streamlit run streamlit_app.py`."""

from pathlib import Path

import streamlit as st

import engine
from app_pages.common import note_unused_link_settings, page_style

# The tab's icon ships with the app: a Material icon here would be fetched from Google's font
# server by every browser, and be missing offline.
ICON = Path(__file__).resolve().parent / "app_pages" / "static" / "icon.png"
# What the server frees after a visitor goes back to the system (engine/core/allocator.py).
engine.return_large_blocks_to_the_system()
st.set_page_config(page_title="Autoencoder Playground", page_icon=str(ICON), layout="wide")
page_style()

navigation = st.navigation(
    [
        st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("app_pages/denoising.py", title="Denoising", icon=":material/auto_fix_high:"),
        st.Page("app_pages/colorize.py", title="Colorization", icon=":material/palette:"),
        st.Page("app_pages/anomaly.py", title="Anomaly detection", icon=":material/troubleshoot:"),
        st.Page("app_pages/search.py", title="Image search", icon=":material/image_search:"),
        st.Page("app_pages/generate.py", title="VAE generation", icon=":material/auto_awesome:"),
        st.Page("app_pages/studio.py", title="Training studio", icon=":material/model_training:"),
        st.Page("app_pages/sequence.py", title="Sequence autoencoder", icon=":material/timeline:"),
        st.Page("app_pages/semisupervised.py", title="Semi-supervised learning", icon=":material/school:"),
        st.Page("app_pages/impute.py", title="Filling in missing values", icon=":material/healing:"),
        st.Page("app_pages/sources.py", title="Sources", icon=":material/menu_book:"),
    ]
)
# Above every page: a note when the link that opened it carried settings the page could not take
link_note = st.empty()
try:
    navigation.run()
finally:   # also when the page ended itself with st.stop()
    note_unused_link_settings(link_note)

# Results every visitor shares are read from pretrained/precomputed/; one that could not be read
# was computed in this process (slower once, never wrong): say so, and how to rebuild it.
missing = engine.not_precomputed()
if missing:
    st.sidebar.caption(
        f"Computed on this server because their precomputed files are missing or out of date: {', '.join(sorted(missing))}. "
        "Rebuild the files with `python -m engine train precomputed`."
    )
