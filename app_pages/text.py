"""Strings from users shown as text. Streamlit renders markdown in st.markdown, st.caption, the
alerts (st.info, st.warning, st.error, st.success), image captions, expander, tab, button and
radio labels, and help tooltips: an upload named `![x](http://host/track.png).png` would make
every visitor's browser fetch that address, and `$x$` would come out as LaTeX.

File names, zip members, folder labels and CSV column names go through `plain` on their way
into one of those, and so do the engine's messages that quote them (GalleryError names files,
SeriesError columns); the engine's own words (ImageError, ModelError) quote nothing of the
user's and keep their formatting. Plain-text places (st.text, st.code, st.dataframe cells and
headers, selectbox options, download file names) take the strings as they are."""
import re

# Each is backslash-escaped, and then stands for itself (CommonMark lets any ASCII punctuation be
# escaped): \ itself, links and images ! [ ] ( ), autolinks and HTML < >, entities &, emphasis
# * _ ~, code `, LaTeX $, headings #, tables |, and : and @, without which a bare http://... or
# a@b.c becomes a link and :name: an emoji or a Streamlit icon.
_SPECIAL = re.compile(r"([\\`*_\[\]()<>#|!$~&:@])")
_WWW = re.compile(r"(?i)\b(www)\.")                              # the other bare link: www.host
_LIST_START = re.compile(r"^(\s*)(?:([-+])|(\d{1,9})([.]))(?=\s|$)")   # "- x", "+ x", "1. x"
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")   # newlines, tabs, other controls


def plain(text: object) -> str:
    """`text` (made a str) escaped for Streamlit markdown, on one line: it shows as itself,
    wherever in a markdown body it is put."""
    escaped = _SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))
    escaped = _WWW.sub(r"\1\\.", escaped)
    return _LIST_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[2] else f"{m[1]}{m[3]}\\{m[4]}", escaped)


def file_stem(name: str, fallback: str = "image") -> str:
    """A download's file name stem from a user's file or an example's name: its extension
    dropped, every run of anything but letters, digits, '-' and '_' made one '_' ("Astronaut
    (colour, held out)" -> "Astronaut_colour_held_out"), `fallback` when nothing is left."""
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    return re.sub(r"[^A-Za-z0-9-]+", "_", stem).strip("_") or fallback
