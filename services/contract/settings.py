"""FakeWeb settings: every knob is an environment variable with the prefix ``FAKEWEB_``.

The README's settings table lists the same fields; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_S3_SECRET = "fakeweb-dev-secret"  # noqa: S105 - refused when FAKEWEB_ENV=prod
DEV_API_KEYS = "dev:fakeweb-dev-key"
DEV_WEBHOOK_SECRET = "fakeweb-dev-webhook-secret"  # noqa: S105 - refused when FAKEWEB_ENV=prod
DEV_KEYS = frozenset(entry.split(":", 1)[1] for entry in DEV_API_KEYS.split(","))
MIN_PROD_KEY_LENGTH = 16


class UnsafeConfiguration(RuntimeError):
    """The settings must not be used to serve (malformed keys, or default credentials in prod)."""


class Settings(BaseSettings):
    """Runtime configuration shared by the gateway, the workers and the serving stand-in."""

    model_config = SettingsConfigDict(env_prefix="FAKEWEB_", extra="ignore", protected_namespaces=())

    env: Literal["dev", "prod"] = Field("dev", description="`prod` refuses the built-in dev credentials.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the job records and the Celery broker.")

    s3_endpoint: str = Field(
        "127.0.0.1:8333", description="S3 endpoint host:port (SeaweedFS locally, MinIO in compose)."
    )
    s3_access_key: str = Field("fakeweb", description="S3 access key.")
    s3_secret_key: str = Field(DEV_S3_SECRET, description="S3 secret key.")
    s3_bucket: str = Field("fakeweb", description="Bucket holding originals, crops and results.")
    s3_secure: bool = Field(False, description="Use HTTPS for S3.")
    s3_region: str = Field("us-east-1", description="S3 region name.")

    serving_address: str = Field("127.0.0.1:8500", description="TF Serving gRPC host:port.")
    model_name: str = Field("fakeweb", description="Model name in TF Serving.")
    model_version: int | None = Field(None, description="Pin a model version (default: what serving serves).")
    model_label: str | None = Field(None, description="Call a version label such as `stable` or `canary`.")
    canary_share: float = Field(0.0, ge=0.0, le=1.0, description="Share of jobs sent to the `canary` label.")
    serving_timeout_s: float = Field(10.0, gt=0, description="Deadline of one Predict call.")
    model_base_path: Path = Field(Path("deploy/models"), description="Model repository `<base>/<name>/<version>/`.")
    model_config_file: Path | None = Field(
        None, description="TF Serving `models.config`; default `<base>/models.config`."
    )
    model_config_poll_s: float = Field(5.0, gt=0, description="How often serving re-reads the config and versions.")

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Probability at or above which a face is `manipulated`.")
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest accepted upload (413 above).")
    max_pixels: int = Field(50_000_000, gt=0, description="Largest width*height, read from the header before decoding.")
    max_side: int = Field(12_000, gt=0, description="Largest width or height in pixels.")

    detector_engine: Literal["blazeface", "haar"] = Field("blazeface", description="Face detector engine.")
    min_face_px: int = Field(24, gt=0, description="Faces smaller than this are `unjudgeable: too_small`.")
    classify_chunk_size: int = Field(16, gt=0, description="Faces per classify task (fan-out unit).")
    classify_max_batch: int = Field(
        32, gt=0, description="Most faces per Predict call; lowered to a fixed batch size in the model signature."
    )
    jpeg_quality: int = Field(90, ge=30, le=100, description="JPEG quality of the annotated image.")
    malloc_keep_mb: int = Field(
        128,
        ge=0,
        le=2047,
        description="Freed memory (MiB) a gateway or worker keeps for the next photo instead of returning it "
        "to the OS (glibc trim threshold; buffers up to 32 MiB come from the heap); 0 keeps glibc's defaults.",
    )
    blur_threshold: float = Field(
        8.0, ge=0, description="Faces whose Laplacian variance (64 px face) is below this are `too_blurry`."
    )
    cut_off_visible: float = Field(
        0.6, gt=0, le=1, description="Faces with less of their box inside the photo are `cut_off`."
    )
    detector_tile_px: int = Field(0, ge=0, description="Detector tile side in pixels; 0 derives it from `min_face_px`.")
    detector_threads: int = Field(
        1,
        ge=0,
        description="Threads of each detector model call (LiteRT/XNNPACK; with more than 1 the tiles go 4 to a "
        "call); 0: every core the process may use. More shortens one photo's detection, at a little more CPU.",
    )
    annotate_genuine_boxes: bool = Field(True, description="Draw a thin green box around genuine faces.")
    annotate_unjudgeable_boxes: bool = Field(True, description="Draw a grey dashed box around unjudgeable faces.")
    max_video_bytes: int = Field(
        100 * 1024 * 1024, gt=0, description="Largest accepted video upload (413 `payload_too_large` above)."
    )
    max_video_duration_s: float = Field(
        600.0, gt=0, description="Longest accepted video (413 `video_too_long`), from the header and while decoding."
    )
    max_video_pixels: int = Field(
        3840 * 2160, gt=0, description="Largest width*height of a video frame (413 `video_too_large`)."
    )
    video_sample_fps: float = Field(2.0, gt=0, le=60, description="Video frames analysed per second of clip.")
    max_video_frames: int = Field(
        240,
        gt=0,
        description="Most frames analysed per video; a longer clip is sampled evenly at a lower rate instead.",
    )
    video_chunk_frames: int = Field(
        8,
        gt=0,
        description="Sampled frames per `detect_frames` task: a clip spreads over detector processes by chunks, "
        "and a killed one redoes one chunk.",
    )
    video_aggregation: Literal["mean", "confident"] = Field(
        "mean",
        description="How a track's frame scores make its probability: `mean`, or DFDC's `confident` rule.",
    )
    video_min_track_frames: int = Field(
        2, gt=0, description="Scored frames a track needs for a verdict; fewer: `unjudgeable: too_few_frames`."
    )

    provenance_trust_anchors: Path | None = Field(
        None,
        description="PEM file of the C2PA trust anchors (root certificates) a signer must chain to for `valid`; "
        "unset or missing: none, so every intact signature reads `untrusted`. Re-read for every job.",
    )
    provenance_timeout_s: float = Field(
        10.0, gt=0, description="Time allowed to read one file's Content Credentials; past it they read `invalid`."
    )
    provenance_memory_mb: int = Field(
        512, gt=0, description="Memory the credentials reader may add (MiB); a manifest needing more reads `invalid`."
    )
    provenance_max_manifest_mb: int = Field(
        16, gt=0, description="Largest C2PA manifest store (MiB, decompressed) the reader accepts; larger: `invalid`."
    )

    task_max_retries: int = Field(
        5, ge=0, description="Retries of a stage on transient faults (backoff 1, 2, 4 ... s) before the job fails."
    )
    task_retry_backoff_max_s: int = Field(30, gt=0, description="Cap of the exponential retry backoff.")
    visibility_timeout_s: int = Field(900, gt=0, description="Redis redelivers a task not acknowledged within this.")
    stuck_job_timeout_s: int = Field(
        1800,
        gt=0,
        description="The sweeper fails a job (reason `timeout`) whose stage has not moved for this long; "
        "keep it above the visibility timeout.",
    )

    retention_s: int = Field(
        7 * 86_400,
        gt=0,
        description="A job, its photos, crops and results are deleted this long after submission "
        "(a submission's `delete_after_s` may only shorten it).",
    )
    retention_scan_interval_s: float = Field(
        30.0, gt=0, description="How often the sweeper looks for jobs past their retention (and deletes them)."
    )
    retention_batch_size: int = Field(
        100,
        gt=0,
        description="Jobs the sweeper deletes per batch (each batch is recorded first, so a restart ends it).",
    )
    max_active_jobs_per_tenant: int = Field(
        100,
        ge=0,
        description="Jobs a tenant may have queued or running at once (`429 too_many_jobs` above); 0: no cap.",
    )
    max_queue_depth: int = Field(
        1000,
        ge=0,
        description="Tasks waiting in any stage's queue above which new jobs get `503 overloaded`; 0: no bound.",
    )
    max_redis_memory_ratio: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Share of Redis `maxmemory` in use at which new jobs get `503 overloaded` (when maxmemory is set).",
    )
    overload_retry_after_s: int = Field(
        5, gt=0, description="`Retry-After` seconds of `429 too_many_jobs` and `503 overloaded` answers."
    )

    gateway_host: str = Field("127.0.0.1", description="Address the gateway binds to.")
    gateway_port: int = Field(8000, gt=0, description="Port the gateway listens on.")
    public_url: str = Field("", description="Base URL for links in API answers; empty: from the request.")

    api_keys: str = Field(
        DEV_API_KEYS,
        description="API keys `tenant:key,tenant:key`; callers send one in `X-API-Key`. Dev key refused in prod.",
    )
    rate_limit_per_s: float = Field(
        10.0, ge=0, description="Requests per second each API key may sustain (token bucket refill); 0 disables."
    )
    rate_limit_burst: int = Field(60, gt=0, description="Requests an API key may make at once before answers turn 429.")
    cors_origins: str = Field(
        "",
        description="Comma-separated origins (e.g. the browser extension's `chrome-extension://<id>`) whose "
        "pages may call the API from a browser; empty: none. `*` is refused.",
    )
    idempotency_ttl_s: int = Field(86_400, gt=0, description="How long an `Idempotency-Key` keeps returning its job.")
    result_cache_ttl_s: int = Field(
        86_400, ge=0, description="How long a result is reused for the same photo, model version and threshold; 0 off."
    )
    result_cache_shared: bool = Field(
        False, description="Reuse results across tenants (lets a tenant notice that a photo was seen before)."
    )
    url_fetch_timeout_s: float = Field(10.0, gt=0, description="Total time allowed to fetch a photo by URL.")
    url_fetch_max_redirects: int = Field(
        3, ge=0, description="Redirects followed (each re-checked) when fetching a URL."
    )
    ssrf_allowlist: str = Field(
        "",
        description="TESTS ONLY: comma-separated IPs/CIDRs that URL fetches and webhooks may reach although they are "
        "private or loopback. Refused in prod.",
    )
    webhook_secret: str = Field(
        DEV_WEBHOOK_SECRET,
        description="HMAC-SHA256 key of the `X-FakeWeb-Signature` header. The default is refused in prod.",
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Time allowed for one webhook delivery attempt.")
    webhook_max_retries: int = Field(8, ge=0, description="Webhook re-deliveries after a 5xx, 429 or network error.")
    webhook_backoff_max_s: int = Field(600, gt=0, description="Cap of the webhook's exponential retry backoff.")
    metrics_window_jobs: int = Field(
        10_000, gt=0, description="`/metrics` job counts and stage latencies cover this many newest jobs."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="Gateway and webhook worker log lines: JSON or text."
    )

    data_dir: Path = Field(Path(".fakeweb"), description="Local stack state (Redis, SeaweedFS, logs).")
    shared_data_dir: Path = Field(Path("../shared/data"), description="Labelled training and test data.")

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self) -> Settings:
        """With FAKEWEB_ENV=prod no process (gateway, workers, sweeper, webhook signer) starts on dev credentials."""
        refuse_unsafe_prod(self)
        return self

    @property
    def resolved_model_config_file(self) -> Path:
        """The models.config path, defaulting to one inside the model repository."""
        return self.model_config_file or self.model_base_path / "models.config"


def unsafe_in_prod(settings: Settings) -> list[str]:
    """What FAKEWEB_ENV=prod refuses in these settings: dev credentials, short API keys, the test SSRF allow-list.

    API keys are read as the gateway reads them (``tenant:key`` entries); a malformed list is the
    gateway's to refuse, with the entry's position.
    """
    entries = (entry.strip().partition(":") for entry in settings.api_keys.split(","))
    keys = [key for _, sep, key in entries if sep and key]
    problems = []
    if any(key in DEV_KEYS for key in keys):
        problems.append("FAKEWEB_API_KEYS contains the documented dev key")
    if any(len(key) < MIN_PROD_KEY_LENGTH for key in keys):
        problems.append(f"FAKEWEB_API_KEYS has a key shorter than {MIN_PROD_KEY_LENGTH} characters")
    if settings.s3_secret_key == DEV_S3_SECRET:
        problems.append("FAKEWEB_S3_SECRET_KEY is the dev secret")
    if settings.webhook_secret == DEV_WEBHOOK_SECRET:
        problems.append("FAKEWEB_WEBHOOK_SECRET is the dev secret")
    if settings.ssrf_allowlist.strip():
        problems.append("FAKEWEB_SSRF_ALLOWLIST is set (tests only)")
    return problems


def refuse_unsafe_prod(settings: Settings) -> None:
    """Raise UnsafeConfiguration, naming every problem (never a value), if prod settings are unsafe."""
    if settings.env != "prod":
        return
    problems = unsafe_in_prod(settings)
    if problems:
        raise UnsafeConfiguration("FAKEWEB_ENV=prod refuses to start: " + "; ".join(problems) + ".")


@lru_cache
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()


def settings_table_markdown() -> str:
    """The README's settings table, generated from the Settings fields."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is None else str(default.value if hasattr(default, "value") else default)
        rows.append(f"| `FAKEWEB_{name.upper()}` | `{shown}` | {field.description or ''} |")
    return "\n".join(rows)
