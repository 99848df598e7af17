"""Home: what the playground is and where to go."""

import streamlit as st

st.title("Autoencoder Playground")

st.markdown(
    """
An **autoencoder** is a neural network trained to reproduce its own input. An *encoder*
squeezes the image into a short *code*, and a *decoder* rebuilds the image from that code
alone. Because the code is much smaller than the image, the network cannot simply copy:
it has to learn what images of its kind usually look like. That learned knowledge is what
makes autoencoders useful: they can clean up noise, fill in colour, notice inputs unlike
anything they were trained on, and compare images by their codes.
"""
)
st.latex(
    r"x \xrightarrow{\text{encoder } f} z = f(x) \xrightarrow{\text{decoder } g} \hat{x} = g(z) \approx x"
)

st.markdown(
    """
Every page lets you drag in your own image or pick a built-in example, and shows the
autoencoder's result next to a simple baseline with a number that judges them, so you can
see what the network adds. The models were trained here on built-in data (handwritten and
rendered characters, sample photos) and run in your session through ONNX Runtime.
"""
)

st.subheader("Pages")
st.page_link(
    "app_pages/denoising.py",
    label="**Denoising**: add noise to a character or a photo and watch an autoencoder remove it",
    icon=":material/auto_fix_high:",
)
st.page_link(
    "app_pages/colorize.py",
    label="**Colorization**: colour a grey photo, measure the guess, and fine-tune the network on your own photos",
    icon=":material/palette:",
)
st.page_link(
    "app_pages/anomaly.py",
    label="**Anomaly detection**: an autoencoder that knows only digits judges whether your character is one",
    icon=":material/troubleshoot:",
)
st.page_link(
    "app_pages/search.py",
    label="**Image search**: find the gallery images whose encoder codes lie nearest to yours",
    icon=":material/image_search:",
)
st.page_link(
    "app_pages/generate.py",
    label="**VAE generation**: sample new digits, walk and map the latent space, ask for a digit",
    icon=":material/auto_awesome:",
)
st.page_link(
    "app_pages/studio.py",
    label="**Training studio**: train each autoencoder of the family yourself, compare them and PCA, "
    "download the model",
    icon=":material/model_training:",
)
st.page_link(
    "app_pages/sequence.py",
    label="**Sequence autoencoder**: forecast the next hours of electricity load and flag anomalous days",
    icon=":material/timeline:",
)
st.page_link(
    "app_pages/semisupervised.py",
    label="**Semi-supervised learning**: a pretrained encoder and a few labels per digit, against PCA and from scratch",
    icon=":material/school:",
)
st.page_link(
    "app_pages/impute.py",
    label="**Filling in missing values**: a masking autoencoder completes characters and a table, against mean and PCA",
    icon=":material/healing:",
)
st.page_link(
    "app_pages/sources.py",
    label="**Sources**: the lecture notes and blog posts the playground was made from, summarised in English",
    icon=":material/menu_book:",
)
