"""What type checkers and IDEs see of `engine`; engine/__init__.py reads this file to resolve
the same names lazily at run time (lazy_loader.attach_stub)."""

from . import training as training
from .core.imaging import (
    MAX_UPLOAD_BYTES as MAX_UPLOAD_BYTES,
)
from .core.imaging import (
    NOISE_KINDS as NOISE_KINDS,
)
from .core.imaging import (
    UPLOAD_TYPES as UPLOAD_TYPES,
)
from .core.imaging import (
    CorruptImageError as CorruptImageError,
)
from .core.imaging import (
    EmptyImageError as EmptyImageError,
)
from .core.imaging import (
    ImageError as ImageError,
)
from .core.imaging import (
    ImageTooLargeError as ImageTooLargeError,
)
from .core.imaging import (
    NotAnImageError as NotAnImageError,
)
from .core.imaging import (
    add_noise as add_noise,
)
from .core.imaging import (
    decode_image as decode_image,
)
from .core.imaging import (
    encode_png as encode_png,
)
from .core.imaging import (
    fit_within as fit_within,
)
from .core.imaging import (
    prepare_character as prepare_character,
)
from .core.imaging import (
    to_grey as to_grey,
)
from .core.index import (
    METRICS as METRICS,
)
from .core.index import (
    SearchIndex as SearchIndex,
)
from .core.index import (
    SearchIndexError as SearchIndexError,
)
from .core.jobs import (
    Job as Job,
)
from .core.jobs import (
    JobUpdate as JobUpdate,
)
from .core.jobs import (
    start_job as start_job,
)
from .core.loaders import (
    load_idx as load_idx,
)
from .core.loaders import (
    load_image_folder as load_image_folder,
)
from .core.metrics import (
    colourfulness as colourfulness,
)
from .core.metrics import (
    psnr as psnr,
)
from .core.metrics import (
    ssim as ssim,
)
from .core.runtime import (
    ModelError as ModelError,
)
from .core.runtime import (
    available_models as available_models,
)
from .core.runtime import (
    device_name as device_name,
)
from .core.runtime import (
    model_info as model_info,
)
from .core.runtime import (
    model_metadata as model_metadata,
)
from .tasks.anomaly.serve import (
    ANOMALY_DEFAULT_SCORING as ANOMALY_DEFAULT_SCORING,
)
from .tasks.anomaly.serve import (
    ANOMALY_SCORINGS as ANOMALY_SCORINGS,
)
from .tasks.anomaly.serve import (
    DIGIT_LIKE_LETTERS as DIGIT_LIKE_LETTERS,
)
from .tasks.anomaly.serve import (
    AnomalyDetector as AnomalyDetector,
)
from .tasks.anomaly.serve import (
    AnomalyResult as AnomalyResult,
)
from .tasks.anomaly.serve import (
    anomaly_evaluation_set as anomaly_evaluation_set,
)
from .tasks.anomaly.serve import (
    anomaly_examples as anomaly_examples,
)
from .tasks.anomaly.serve import (
    anomaly_scores as anomaly_scores,
)
from .tasks.anomaly.serve import (
    confusion as confusion,
)
from .tasks.anomaly.serve import (
    explain_anomalies as explain_anomalies,
)
from .tasks.anomaly.serve import (
    roc as roc,
)
from .tasks.colorize.serve import (
    ColorizeComparison as ColorizeComparison,
)
from .tasks.colorize.serve import (
    ColorizeError as ColorizeError,
)
from .tasks.colorize.serve import (
    FineTuneResult as FineTuneResult,
)
from .tasks.colorize.serve import (
    colorize as colorize,
)
from .tasks.colorize.serve import (
    colorize_examples as colorize_examples,
)
from .tasks.colorize.serve import (
    colorize_one as colorize_one,
)
from .tasks.colorize.serve import (
    compare_colorization as compare_colorization,
)
from .tasks.colorize.serve import (
    is_grey as is_grey,
)
from .tasks.denoise.serve import (
    DEFAULT_NOISE_AMOUNT as DEFAULT_NOISE_AMOUNT,
)
from .tasks.denoise.serve import (
    DenoiseComparison as DenoiseComparison,
)
from .tasks.denoise.serve import (
    compare_denoising as compare_denoising,
)
from .tasks.denoise.serve import (
    denoise as denoise,
)
from .tasks.denoise.serve import (
    denoise_examples as denoise_examples,
)
from .tasks.denoise.serve import (
    denoise_target as denoise_target,
)
from .tasks.denoise.serve import (
    takes_characters as takes_characters,
)
from .tasks.generate.serve import (
    CONDITIONAL_VAE as CONDITIONAL_VAE,
)
from .tasks.generate.serve import (
    DEFAULT_VAE as DEFAULT_VAE,
)
from .tasks.generate.serve import (
    VAE_MODELS as VAE_MODELS,
)
from .tasks.generate.serve import (
    classify_digits as classify_digits,
)
from .tasks.generate.serve import (
    heldout_elbo as heldout_elbo,
)
from .tasks.generate.serve import (
    interpolate as interpolate,
)
from .tasks.generate.serve import (
    is_conditional as is_conditional,
)
from .tasks.generate.serve import (
    judge_samples as judge_samples,
)
from .tasks.generate.serve import (
    latent_grid as latent_grid,
)
from .tasks.generate.serve import (
    latent_size as latent_size,
)
from .tasks.generate.serve import (
    negative_elbo_terms as negative_elbo_terms,
)
from .tasks.generate.serve import (
    path_roughness as path_roughness,
)
from .tasks.generate.serve import (
    prior_samples as prior_samples,
)
from .tasks.generate.serve import (
    sharpness as sharpness,
)
from .tasks.generate.serve import (
    vae_decode as vae_decode,
)
from .tasks.generate.serve import (
    vae_encode as vae_encode,
)
from .tasks.generate.serve import (
    vae_sample as vae_sample,
)
from .tasks.impute.serve import (
    IMPUTE_METHODS as IMPUTE_METHODS,
)
from .tasks.impute.serve import (
    MASK_KINDS as MASK_KINDS,
)
from .tasks.impute.serve import (
    TABLES as TABLES,
)
from .tasks.impute.serve import (
    Filling as Filling,
)
from .tasks.impute.serve import (
    ImputeError as ImputeError,
)
from .tasks.impute.serve import (
    TableFilling as TableFilling,
)
from .tasks.impute.serve import (
    character_baselines as character_baselines,
)
from .tasks.impute.serve import (
    choose_pca_settings as choose_pca_settings,
)
from .tasks.impute.serve import (
    compare_character_filling as compare_character_filling,
)
from .tasks.impute.serve import (
    compare_table_filling as compare_table_filling,
)
from .tasks.impute.serve import (
    fill_characters as fill_characters,
)
from .tasks.impute.serve import (
    fill_table as fill_table,
)
from .tasks.impute.serve import (
    hidden_rmse as hidden_rmse,
)
from .tasks.impute.serve import (
    impute_examples as impute_examples,
)
from .tasks.impute.serve import (
    iterative_pca_fill as iterative_pca_fill,
)
from .tasks.impute.serve import (
    load_table as load_table,
)
from .tasks.impute.serve import (
    mask_from_image as mask_from_image,
)
from .tasks.impute.serve import (
    mean_fill as mean_fill,
)
from .tasks.impute.serve import (
    random_mask as random_mask,
)
from .tasks.impute.serve import (
    rectangle_mask as rectangle_mask,
)
from .tasks.search.serve import (
    BUILTIN_GALLERIES as BUILTIN_GALLERIES,
)
from .tasks.search.serve import (
    SPACE_NAMES as SPACE_NAMES,
)
from .tasks.search.serve import (
    TSNE_LIMIT as TSNE_LIMIT,
)
from .tasks.search.serve import (
    Gallery as Gallery,
)
from .tasks.search.serve import (
    GalleryError as GalleryError,
)
from .tasks.search.serve import (
    SearchResult as SearchResult,
)
from .tasks.search.serve import (
    builtin_gallery as builtin_gallery,
)
from .tasks.search.serve import (
    compare_spaces as compare_spaces,
)
from .tasks.search.serve import (
    embed as embed,
)
from .tasks.search.serve import (
    load_gallery as load_gallery,
)
from .tasks.search.serve import (
    precision_at_k as precision_at_k,
)
from .tasks.search.serve import (
    project as project,
)
from .tasks.search.serve import (
    search as search,
)
from .tasks.semisupervised.serve import (
    LABELS_PER_DIGIT as LABELS_PER_DIGIT,
)
from .tasks.semisupervised.serve import (
    SEMISUPERVISED_METHODS as SEMISUPERVISED_METHODS,
)
from .tasks.semisupervised.serve import (
    CurvePoint as CurvePoint,
)
from .tasks.semisupervised.serve import (
    LabelRun as LabelRun,
)
from .tasks.semisupervised.serve import (
    heldout_digits as heldout_digits,
)
from .tasks.semisupervised.serve import (
    predict_digits as predict_digits,
)
from .tasks.semisupervised.serve import (
    recorded_curve as recorded_curve,
)
from .tasks.semisupervised.serve import (
    sample_labels as sample_labels,
)
from .tasks.semisupervised.serve import (
    semisupervised_data as semisupervised_data,
)
from .tasks.semisupervised.serve import (
    unlabelled_digits as unlabelled_digits,
)
from .tasks.sequence.series import (
    MAX_CSV_BYTES as MAX_CSV_BYTES,
)
from .tasks.sequence.series import (
    MAX_FILLED_GAP as MAX_FILLED_GAP,
)
from .tasks.sequence.series import (
    SERIES_ANOMALY_KINDS as SERIES_ANOMALY_KINDS,
)
from .tasks.sequence.series import (
    InjectedAnomaly as InjectedAnomaly,
)
from .tasks.sequence.series import (
    LoadSeries as LoadSeries,
)
from .tasks.sequence.series import (
    NoNumericColumnError as NoNumericColumnError,
)
from .tasks.sequence.series import (
    NotACSVError as NotACSVError,
)
from .tasks.sequence.series import (
    SeriesError as SeriesError,
)
from .tasks.sequence.series import (
    SeriesGapError as SeriesGapError,
)
from .tasks.sequence.series import (
    SeriesSplit as SeriesSplit,
)
from .tasks.sequence.series import (
    SeriesStats as SeriesStats,
)
from .tasks.sequence.series import (
    SeriesTable as SeriesTable,
)
from .tasks.sequence.series import (
    SeriesTooLargeError as SeriesTooLargeError,
)
from .tasks.sequence.series import (
    SeriesTooShortError as SeriesTooShortError,
)
from .tasks.sequence.series import (
    TimestampError as TimestampError,
)
from .tasks.sequence.series import (
    default_split as default_split,
)
from .tasks.sequence.series import (
    inject_anomalies as inject_anomalies,
)
from .tasks.sequence.series import (
    load_series_csv as load_series_csv,
)
from .tasks.sequence.series import (
    read_series_csv as read_series_csv,
)
from .tasks.sequence.series import (
    synthetic_load_series as synthetic_load_series,
)
from .tasks.sequence.series import (
    time_split as time_split,
)
from .tasks.sequence.serve import (
    DEFAULT_THRESHOLD_PERCENTILE as DEFAULT_THRESHOLD_PERCENTILE,
)
from .tasks.sequence.serve import (
    FORECAST_HORIZON as FORECAST_HORIZON,
)
from .tasks.sequence.serve import (
    FORECAST_WINDOW as FORECAST_WINDOW,
)
from .tasks.sequence.serve import (
    RECONSTRUCTION_WINDOW as RECONSTRUCTION_WINDOW,
)
from .tasks.sequence.serve import (
    SEQUENCE_AUTOENCODER as SEQUENCE_AUTOENCODER,
)
from .tasks.sequence.serve import (
    SEQUENCE_FORECASTER as SEQUENCE_FORECASTER,
)
from .tasks.sequence.serve import (
    SEQUENCE_LSTM_LABEL as SEQUENCE_LSTM_LABEL,
)
from .tasks.sequence.serve import (
    DetectionTrials as DetectionTrials,
)
from .tasks.sequence.serve import (
    SequenceDetection as SequenceDetection,
)
from .tasks.sequence.serve import (
    SequenceForecast as SequenceForecast,
)
from .tasks.sequence.serve import (
    TrainedSequenceModels as TrainedSequenceModels,
)
from .tasks.sequence.serve import (
    detect_sequence_anomalies as detect_sequence_anomalies,
)
from .tasks.sequence.serve import (
    detection_trials as detection_trials,
)
from .tasks.sequence.serve import (
    forecast_heldout as forecast_heldout,
)
from .tasks.sequence.serve import (
    forecast_next_hours as forecast_next_hours,
)
from .tasks.sequence.serve import (
    reconstruct_windows as reconstruct_windows,
)
from .tasks.sequence.serve import (
    sequence_model_stats as sequence_model_stats,
)
from .tasks.sequence.serve import (
    window_scores as window_scores,
)
from .tasks.studio.serve import (
    COMPARISON_COLUMNS as COMPARISON_COLUMNS,
)
from .tasks.studio.serve import (
    NEAR_ZERO as NEAR_ZERO,
)
from .tasks.studio.serve import (
    STUDIO_DATA as STUDIO_DATA,
)
from .tasks.studio.serve import (
    TRAINING_METHODS as TRAINING_METHODS,
)
from .tasks.studio.serve import (
    VARIANTS as VARIANTS,
)
from .tasks.studio.serve import (
    CodeStats as CodeStats,
)
from .tasks.studio.serve import (
    DigitsProjection as DigitsProjection,
)
from .tasks.studio.serve import (
    StudioConfig as StudioConfig,
)
from .tasks.studio.serve import (
    StudioData as StudioData,
)
from .tasks.studio.serve import (
    StudioProgress as StudioProgress,
)
from .tasks.studio.serve import (
    StudioResult as StudioResult,
)
from .tasks.studio.serve import (
    SurfaceFit as SurfaceFit,
)
from .tasks.studio.serve import (
    builtin_digits as builtin_digits,
)
from .tasks.studio.serve import (
    code_stats as code_stats,
)
from .tasks.studio.serve import (
    prepare_images as prepare_images,
)
from .tasks.studio.serve import (
    reconstruct_and_encode as reconstruct_and_encode,
)
from .tasks.studio.serve import (
    surface_points as surface_points,
)
