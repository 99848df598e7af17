"""The Training studio's Training methods tab: a stacked autoencoder trained all at once,
layer-wise and with tied weights, on the same images with the same budget."""
import logging

import streamlit as st

import engine
from app_pages import session_models
from app_pages.common import start_logged_job
from app_pages.logic import sources, studio as logic
from app_pages.parts.studio_common import job_progress, show_image

log = logging.getLogger(__name__)


def start_methods(choice: logic.DataChoice, code_size: int, epochs: int, lr: float) -> bool:
    """The three methods trained one after the other in one background job; False (and a
    message saying why) when it cannot start."""
    runs, reports = session_models.run_log(), []

    def work(job: engine.Job) -> list[logic.Run]:
        return logic.train_methods(choice, code_size, epochs, lr, job, reports, runs)

    job = start_logged_job(work, "studio-methods", "Comparing the training methods", log)
    if job is None:
        return False
    st.session_state[logic.METHODS_JOB] = logic.Pending(job, reports, epochs, choice.label)
    return True


def methods_tab() -> None:
    """The Training methods tab."""
    st.markdown(
        f"A deep autoencoder can be trained in three ways {sources.link()} set side by side. **All at "
        "once**: every layer from a random start, by backpropagation through the whole stack. **Greedy "
        "layer-wise pretraining**: first each encoder layer with its mirror, as a shallow autoencoder of "
        "the codes below it, then the whole stack fine-tuned (before ReLUs and good initialisations, the "
        "way deep autoencoders could be trained at all). **Tied weights**: the decoder reuses the encoder's "
        "matrices transposed, halving the weights:"
    )
    st.latex(r"h = \mathrm{ReLU}(W x + b),\qquad \hat x = \sigma(W^{\top} h + c)")
    st.markdown("The three train here on the same images with the same budget of steps (layer-wise spends "
                "half of it pretraining), and are judged on the same held-out images.")
    if not engine.training.available():
        st.info(logic.NO_TORCH, icon=":material/info:")
        return
    pending: logic.Pending | None = st.session_state.get(logic.METHODS_JOB)
    running = pending is not None and pending.job.running
    data_col, count_col, code_col, epochs_col = st.columns([3, 2, 2, 2])
    source = data_col.selectbox("Data", ["digits28", "digits8"], format_func=logic.DATA_LABELS.get,
                                key="methods_data", bind="query-params", persist_state="session", disabled=running)
    count = count_col.select_slider("Training images (at most)", logic.COUNTS, value=logic.DEFAULT_COUNT, key="methods_count",
                                    bind="query-params",
                                    format_func=lambda n: f"{n:,}", persist_state="session", disabled=running)
    code_size = code_col.select_slider("Code size", (2, 4, 8, 16, 32), value=16, key="methods_code", bind="query-params",
                                       persist_state="session", disabled=running)
    epochs = epochs_col.slider("Epochs", 1, logic.MAX_EPOCHS, logic.DEFAULT_EPOCHS, key="methods_epochs",
                               bind="query-params", persist_state="session",
                               disabled=running)
    if st.button("Train the three", key="methods_train", type="primary", icon=":material/model_training:",
                 disabled=running):
        if start_methods(logic.builtin_choice(source, count), code_size, epochs, logic.DEFAULT_LR):
            st.rerun()
    if pending is None:
        return
    if running:
        job_progress(logic.METHODS_JOB)
        return
    if pending.job.state == "failed":
        st.error(f"Training failed: {pending.job.error}", icon=":material/error:")
        return
    runs: list[logic.Run] = pending.job.result or []
    if not runs:
        st.info("The comparison was stopped before a model was trained.", icon=":material/stop_circle:")
        return
    if logic.methods_incomplete(runs):
        st.warning("Not every method ran its full budget: compare with care.", icon=":material/stop_circle:")
    st.dataframe(
        logic.methods_rows(runs),
        hide_index=True,
        key="methods_table",
        column_config={"Held-out MSE": st.column_config.NumberColumn(format="%.4f"),
                       "Parameters": st.column_config.NumberColumn(format="localized")},
    )
    if runs[0].pca is not None:
        st.caption("PCA with the same code size on the same images: held-out MSE "
                   f"{runs[0].pca['heldout_mse']:.4f}.")
    st.plotly_chart(logic.methods_curves(runs), key="methods_curves")
    names = logic.method_names(runs)
    pictures = st.columns(len(runs))
    for column, run in zip(pictures, runs, strict=True):
        show_image(logic.strip(run.result.reconstructions[:5]), names[run.number], column)
    st.caption("The models are in **Compare runs** too, with their downloads.")
