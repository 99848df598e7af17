"""The Autoencoder Playground engine: the serving API every page, notebook and test calls.

Images are numpy float32 in [0, 1]. Grey images are (N, H, W); colour images are
(N, H, W, 3) RGB. Characters are 28x28, light strokes on a dark ground (MNIST).

The names are listed once, in `__init__.pyi` (which type checkers and IDEs read), and resolved
lazily on first use, so that `import engine` stays cheap and never imports torch: serving a page
needs only numpy, Pillow and onnxruntime. Training lives apart, in `engine.training`.
"""
import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
