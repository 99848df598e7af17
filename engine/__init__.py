"""The Autoencoder Playground engine: the public API every page, notebook and test calls.

Images are numpy float32 in [0, 1]. Grey images are (N, H, W); colour images are
(N, H, W, 3) RGB. Characters are 28x28, light strokes on a dark ground (MNIST).

Names are resolved lazily so that `import engine` stays cheap and never imports torch:
serving a page needs only numpy, Pillow and onnxruntime.
"""
from __future__ import annotations

import importlib
from typing import Any

# public name -> module (relative to this package) that defines it
_API = {
    # imaging: safe decoding, character preparation, noise
    "ImageError": "imaging",
    "NotAnImageError": "imaging",
    "CorruptImageError": "imaging",
    "ImageTooLargeError": "imaging",
    "EmptyImageError": "imaging",
    "decode_image": "imaging",
    "prepare_character": "imaging",
    "add_noise": "imaging",
    "to_grey": "imaging",
    "fit_within": "imaging",
    "encode_png": "imaging",
    "NOISE_KINDS": "imaging",
    "UPLOAD_TYPES": "imaging",
    "MAX_UPLOAD_BYTES": "imaging",
    # loaders for users' own data
    "load_idx": "loaders",
    "load_image_folder": "loaders",
    # metrics
    "psnr": "metrics",
    "ssim": "metrics",
    # runtime
    "ModelError": "runtime",
    "available_models": "runtime",
    "model_info": "runtime",
    "device_name": "runtime",
    "model_metadata": "runtime",
    # tasks
    "denoise": "tasks.denoise",
    "compare_denoising": "tasks.denoise",
    "denoise_examples": "tasks.denoise",
    "DenoiseComparison": "tasks.denoise",
    "denoise_target": "tasks.denoise",
    "takes_characters": "tasks.denoise",
    "DEFAULT_NOISE_AMOUNT": "tasks.denoise",
    # anomaly detection
    "anomaly_scores": "tasks.anomaly",
    "AnomalyDetector": "tasks.anomaly",
    "AnomalyResult": "tasks.anomaly",
    "explain_anomalies": "tasks.anomaly",
    "anomaly_examples": "tasks.anomaly",
    "anomaly_evaluation_set": "tasks.anomaly",
    "roc": "tasks.anomaly",
    "confusion": "tasks.anomaly",
    "ANOMALY_SCORINGS": "tasks.anomaly",
    "ANOMALY_DEFAULT_SCORING": "tasks.anomaly",
    "DIGIT_LIKE_LETTERS": "tasks.anomaly",
    # image search
    "embed": "tasks.search",
    "Gallery": "tasks.search",
    "GalleryError": "tasks.search",
    "SearchResult": "tasks.search",
    "search": "tasks.search",
    "precision_at_k": "tasks.search",
    "compare_spaces": "tasks.search",
    "project": "tasks.search",
    "builtin_gallery": "tasks.search",
    "load_gallery": "tasks.search",
    "BUILTIN_GALLERIES": "tasks.search",
    "SPACE_NAMES": "tasks.search",
    "TSNE_LIMIT": "tasks.search",
    # VAE generation
    "vae_encode": "tasks.generate",
    "vae_decode": "tasks.generate",
    "vae_sample": "tasks.generate",
    "prior_samples": "tasks.generate",
    "interpolate": "tasks.generate",
    "latent_grid": "tasks.generate",
    "latent_size": "tasks.generate",
    "is_conditional": "tasks.generate",
    "heldout_elbo": "tasks.generate",
    "negative_elbo_terms": "tasks.generate",
    "classify_digits": "tasks.generate",
    "judge_samples": "tasks.generate",
    "sharpness": "tasks.generate",
    "path_roughness": "tasks.generate",
    "VAE_MODELS": "tasks.generate",
    "DEFAULT_VAE": "tasks.generate",
    "CONDITIONAL_VAE": "tasks.generate",
    # colorization
    "colorize": "tasks.colorize",
    "colorize_one": "tasks.colorize",
    "compare_colorization": "tasks.colorize",
    "colorize_examples": "tasks.colorize",
    "ColorizeComparison": "tasks.colorize",
    "ColorizeError": "tasks.colorize",
    "fine_tune_colorizer": "tasks.colorize",
    "FineTuneResult": "tasks.colorize",
    "colourfulness": "metrics",
    "is_grey": "tasks.colorize",
    # background training jobs
    "Job": "jobs",
    "JobUpdate": "jobs",
    "start_job": "jobs",
    # training studio: the autoencoder family (training needs torch; data and
    # reconstruct_and_encode do not)
    "FAMILIES": "family",
    "train_model": "studio",
    "StudioConfig": "studio",
    "StudioResult": "studio",
    "StudioProgress": "studio",
    "StudioData": "studio",
    "CodeStats": "studio",
    "code_stats": "studio",
    "builtin_digits": "studio",
    "prepare_images": "studio",
    "reconstruct_and_encode": "studio",
    "compare_family": "studio",
    "plane_and_curve": "studio",
    "surface_points": "studio",
    "SurfaceFit": "studio",
    "digits_projection": "studio",
    "DigitsProjection": "studio",
    "VARIANTS": "studio",
    "COMPARISON_COLUMNS": "studio",
    "STUDIO_DATA": "studio",
    "TRAINING_METHODS": "studio",
    "NEAR_ZERO": "studio",
    # sequence autoencoders (time series): hourly load and temperature, forecasts, anomalies
    "LoadSeries": "series",
    "SeriesTable": "series",
    "SeriesSplit": "series",
    "SeriesStats": "series",
    "InjectedAnomaly": "series",
    "SeriesError": "series",
    "NotACSVError": "series",
    "NoNumericColumnError": "series",
    "TimestampError": "series",
    "SeriesGapError": "series",
    "SeriesTooShortError": "series",
    "SeriesTooLargeError": "series",
    "synthetic_load_series": "series",
    "read_series_csv": "series",
    "load_series_csv": "series",
    "time_split": "series",
    "default_split": "series",
    "inject_anomalies": "series",
    "SERIES_ANOMALY_KINDS": "series",
    "MAX_CSV_BYTES": "series",
    "MAX_FILLED_GAP": "series",
    "forecast_next_hours": "tasks.sequence",
    "forecast_heldout": "tasks.sequence",
    "SequenceForecast": "tasks.sequence",
    "reconstruct_windows": "tasks.sequence",
    "window_scores": "tasks.sequence",
    "detect_sequence_anomalies": "tasks.sequence",
    "SequenceDetection": "tasks.sequence",
    "detection_trials": "tasks.sequence",
    "DetectionTrials": "tasks.sequence",
    "train_sequence_models": "tasks.sequence",
    "TrainedSequenceModels": "tasks.sequence",
    "sequence_model_stats": "tasks.sequence",
    "SEQUENCE_FORECASTER": "tasks.sequence",
    "SEQUENCE_AUTOENCODER": "tasks.sequence",
    "FORECAST_WINDOW": "tasks.sequence",
    "FORECAST_HORIZON": "tasks.sequence",
    "RECONSTRUCTION_WINDOW": "tasks.sequence",
    "DEFAULT_THRESHOLD_PERCENTILE": "tasks.sequence",
    "SEQUENCE_LSTM_LABEL": "tasks.sequence",
    # semi-supervised learning: a pretrained encoder, few labels, against PCA and from scratch
    "unlabelled_digits": "tasks.semisupervised",
    "heldout_digits": "tasks.semisupervised",
    "sample_labels": "tasks.semisupervised",
    "semisupervised_data": "tasks.semisupervised",
    "run_labels": "tasks.semisupervised",
    "accuracy_curve": "tasks.semisupervised",
    "recorded_curve": "tasks.semisupervised",
    "predict_digits": "tasks.semisupervised",
    "LabelRun": "tasks.semisupervised",
    "CurvePoint": "tasks.semisupervised",
    "LABELS_PER_DIGIT": "tasks.semisupervised",
    "SEMISUPERVISED_METHODS": "tasks.semisupervised",
    # filling in missing values: masking autoencoders against mean filling and PCA completion
    "ImputeError": "tasks.impute",
    "random_mask": "tasks.impute",
    "rectangle_mask": "tasks.impute",
    "mask_from_image": "tasks.impute",
    "hidden_rmse": "tasks.impute",
    "fill_characters": "tasks.impute",
    "character_baselines": "tasks.impute",
    "compare_character_filling": "tasks.impute",
    "impute_examples": "tasks.impute",
    "load_table": "tasks.impute",
    "mean_fill": "tasks.impute",
    "iterative_pca_fill": "tasks.impute",
    "choose_pca_settings": "tasks.impute",
    "fill_table": "tasks.impute",
    "compare_table_filling": "tasks.impute",
    "Filling": "tasks.impute",
    "TableFilling": "tasks.impute",
    "MASK_KINDS": "tasks.impute",
    "IMPUTE_METHODS": "tasks.impute",
    "TABLES": "tasks.impute",
    "SearchIndex": "index",
    "SearchIndexError": "index",
    "METRICS": "index",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name == "training":  # the torch API, a module of its own
        return importlib.import_module(".training", __name__)
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return __all__
