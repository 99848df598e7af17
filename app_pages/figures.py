"""How every page writes its numbers: to the data's scale (significant digits of its typical
size, not a fixed number of decimals) and times in the unit that reads best."""
import numpy as np

PERCENT = "%.1f%%"   # st.column_config.NumberColumn's format for a column in percent: one decimal, every table
PERCENT_STYLE = "{:.1f}%"   # the same for a pandas Styler (st.table)


def decimals_for(values, digits: int = 3, least: int = 0, most: int = 6) -> int:
    """Decimals that give `digits` significant digits to the typical (median absolute, zeros
    left out) of `values`: 3 for values around 0.5, 1 around 15, 0 in the thousands; `least`
    and `most` bound it. Two when there is nothing to go by."""
    magnitudes = np.abs(np.asarray(values, dtype=np.float64).ravel())
    magnitudes = magnitudes[np.isfinite(magnitudes) & (magnitudes > 0)]
    if not len(magnitudes):
        return int(np.clip(2, least, most))
    return int(np.clip(digits - 1 - np.floor(np.log10(np.median(magnitudes))), least, most))


def duration_text(seconds: float) -> str:
    """A time as people say it: "under 1 ms", "12 ms", "0.4 s", "52 s", "8 min 10 s"."""
    if seconds < 0.001:
        return "under 1 ms"
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
