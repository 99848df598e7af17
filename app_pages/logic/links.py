"""Links that share a setup: every page's settings live in its URL (the widgets' bind="query-params",
so a teacher can send a link that opens the same view). Streamlit itself drops a bound setting
whose value the widget cannot take (the widget shows its default); what is left for the app is a
parameter that no widget on the page took: a misspelt or stale name, or a setting this page does
not show as it stands. Those are named in a short note, never an error."""
from collections.abc import Container, Mapping

# Streamlit's own parameters (an app embedded in another page), never a page's setting
STREAMLIT_PARAMETERS = frozenset({"embed", "embed_options"})


def unused_parameters(params: Mapping[str, object], taken: Container[str]) -> list[str]:
    """The names in a page's URL that no widget drawn on this run took (`taken`: the keys in
    the session state), in the URL's order."""
    return [name for name in params if name not in STREAMLIT_PARAMETERS and name not in taken]


def unused_note(names: list[str]) -> str:
    """The note for parameters no widget took; the page opened with its defaults for them."""
    listed = ", ".join(f"`{name}`" for name in names)
    what = "is not a setting" if len(names) == 1 else "are not settings"
    return (f"This link's {listed} {what} of this page as it stands, so the page opened without "
            f"{'it' if len(names) == 1 else 'them'}. Every setting you change is kept in the address bar: "
            "copy it to share this view.")
