"""Sources: the lecture notes and blog posts the playground was made from, shipped with the app,
each with what it covers in English and the pages that build on it."""

import streamlit as st

from app_pages.logic import sources as logic
from app_pages.text import file_stem

st.title("Sources")
st.markdown(
    "The playground was made from five documents on autoencoders: Korean lecture notes and blog posts. "
    "They ship with the app, so nothing is fetched. Each is summarised in English below, with the pages "
    "that build on it; open one to read it whole (in Korean), or download it."
)
for source in logic.SOURCES:
    with st.container(border=True, key=f"source_{source.number}"):
        st.markdown(f"**{source.number}. {source.title}**")
        st.markdown(source.summary)
        st.caption("Built on by: " + ", ".join(source.pages))
        text = source.text()
        with st.expander(f"Read it ({len(text):,} characters, Korean)"):
            st.text(text)
        st.download_button("Download", text.encode("utf-8"), file_name=f"{file_stem(source.file)}.txt",
                           mime="text/plain", on_click="ignore", icon=":material/download:",
                           key=f"source_download_{source.number}")
