"""The Training studio's Compare runs tab: the session's runs side by side with PCA, their
validation curves, one of them run on the user's image, and any of them in detail."""
import streamlit as st

import engine
from app_pages import session_models
from app_pages.figures import PERCENT
from app_pages.logic import studio as logic
from app_pages.parts import char_sources
from app_pages.parts.studio_common import show_image, show_run
from app_pages.text import plain


@st.cache_data(max_entries=32, show_spinner=False)
def run_on_image(onnx: bytes, data: bytes, side: int, as_character: bool) -> logic.OnImage:
    return logic.run_on_image(onnx, data, side, as_character)


def try_a_model(runs: list[logic.Run]) -> None:
    """One of the runs' models on the user's image (or its first held-out one), with its code;
    an upload is shown beside what the model receives."""
    st.subheader("Run a model on your image")
    pick_col, upload_col = st.columns([1, 2])
    labels = logic.latest_first(runs)
    run = labels[pick_col.selectbox("Model", list(labels), key="studio_try_model")]
    upload = upload_col.file_uploader(
        f"Drop an image (up to {logic.MAX_UPLOAD_MB} MB)", type=list(engine.UPLOAD_TYPES),
        max_upload_size=logic.MAX_UPLOAD_MB, key="studio_try_upload")
    side = run.result.heldout.shape[-1]
    if upload is None:
        st.caption("Without an image, the first held-out image is shown.")
        image = run.result.heldout[0]
        reconstruction, code = engine.reconstruct_and_encode(run.result.onnx, image[None])
        reconstruction, code = reconstruction[0], code[0]
        columns = st.columns([1, 1, 3])
        show_image(logic.strip(image[None], 112), "Input: the first held-out image", columns[0])
    else:
        try:
            answer = run_on_image(run.result.onnx, upload.getvalue(), side, run.data.builtin is not None)
        except engine.ImageError as error:
            st.error(f"Could not read **{plain(upload.name)}**: {error}", icon=":material/broken_image:")
            return
        image, reconstruction, code = answer.image, answer.reconstruction, answer.code
        picture_col, *columns = st.columns([1, 1, 1, 3])
        picture_col.image(char_sources.framed(answer.picture, [answer.box] if answer.box else [], 200_000),
                          caption=f"Your image: {plain(upload.name)}", width="stretch", clamp=True)
        show_image(logic.strip(image[None], 112), f"What the model sees ({side}x{side})", columns[0])
    show_image(logic.strip(reconstruction[None], 112), "Reconstruction", columns[1])
    columns[2].plotly_chart(logic.code_bar_figure(image, reconstruction, code), key="studio_try_code")
    st.download_button("Download this model (ONNX)", run.result.onnx, file_name=logic.model_file_name(run),
                       mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                       key="studio_try_download")


def compare_tab() -> None:
    """The Compare runs tab."""
    st.markdown(
        "Every model trained on this page in your session, side by side with PCA of the same code size "
        "on the same images. PCA is the best *linear* autoencoder: it keeps the $K$ directions of "
        "largest variance, and rebuilds"
    )
    st.latex(r"\hat x = \mu + W W^{\top} (x - \mu),\qquad W \in \mathbb{R}^{D \times K},\ W^{\top} W = I")
    st.markdown(
        "An autoencoder can beat it only by bending: nonlinear layers, convolutions. The table shows what "
        "each costs (parameters, seconds) and what the code looks like: the **near-zero share** counts code "
        f"values with $|z| < {engine.NEAR_ZERO}$, units at rest, which the sparsity penalty raises. The "
        f"**MSE from noisy input** feeds the held-out images with gaussian noise (σ = {logic.NOISY_EVAL}) and "
        "judges against the clean ones: what the denoising autoencoder was trained for."
    )
    runs = session_models.kept_runs()
    if not runs:
        st.info("No model trained yet: train one in the **Train** tab (or **Training methods**).",
                icon=":material/model_training:")
        return
    groups = logic.data_groups(runs)
    key = st.selectbox("Data", list(groups), index=len(groups) - 1, format_func=groups.get,
                       key="studio_compare_data")
    chosen = logic.trained_on(runs, key)
    st.dataframe(
        logic.comparison_rows(chosen),
        hide_index=True,
        key="studio_comparison",
        column_config={
            "Held-out MSE": st.column_config.NumberColumn(format="%.4f"),
            "MSE from noisy input": st.column_config.NumberColumn(format="%.4f"),
            logic.SHARE: st.column_config.NumberColumn(format=PERCENT),
            "Parameters": st.column_config.NumberColumn(format="localized"),
        },
    )
    if any(run.pca is None for run in chosen):
        st.caption("PCA needs at least as many training images as code numbers: it is missing where there are "
                   "fewer.")
    st.caption(f"The session keeps the last {logic.MAX_RUNS} runs.")
    figure = logic.validation_figure(chosen)
    if figure is not None:
        st.plotly_chart(figure, key="studio_compare_curves")
    try_a_model(runs)
    with st.expander("Look at a run in detail", icon=":material/zoom_in:"):
        labels = logic.latest_first(runs)
        show_run(labels[st.selectbox("Run", list(labels), key="studio_detail_run")], "studio_detail")
