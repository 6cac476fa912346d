"""Object storage: the key layout of a job and a small S3 client wrapper (MinIO SDK).

Every object of job ``J`` lives under ``jobs/J/``, so deleting a job is deleting a prefix.
"""

from __future__ import annotations

import io
import json
from typing import Any

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, CopySource, Filter
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.lifecycleconfig import Expiration, LifecycleConfig, Rule

from services.contract.settings import Settings

JOBS_LIFECYCLE_RULE_ID = "fakeweb-expire-jobs"

# S3 error codes that mean "try again later" rather than "this request is wrong".
_TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


def job_prefix(job_id: str) -> str:
    """Prefix under which every object of a job is stored."""
    return f"jobs/{job_id}/"


def original_key(job_id: str) -> str:
    """The uploaded photo, byte for byte."""
    return f"jobs/{job_id}/original"


def faces_key(job_id: str) -> str:
    """Detector output: the list of face records (JSON)."""
    return f"jobs/{job_id}/faces.json"


def crop_key(job_id: str, face_index: int) -> str:
    """A face crop made by the crop policy (lossless PNG)."""
    return f"jobs/{job_id}/faces/{face_index:04d}.png"


def annotated_key(job_id: str) -> str:
    """The annotated full-size photo (JPEG)."""
    return f"jobs/{job_id}/annotated.jpg"


def annotated_video_key(job_id: str) -> str:
    """The annotated clip of a video job (H.264 MP4)."""
    return f"jobs/{job_id}/annotated.mp4"


def frame_chunk_key(job_id: str, chunk: int) -> str:
    """A video job's detections in one chunk of sampled frames (JSON), stored once its crops are stored."""
    return f"jobs/{job_id}/frames/{chunk:04d}.json"


def frame_crop_key(job_id: str, chunk: int, number: int) -> str:
    """The crop of a video job's ``number``-th face in one chunk of sampled frames (lossless PNG).

    Keyed by chunk, not by the face's index in the clip: the chunks are searched in parallel, and
    the clip-wide indexes are only known once every chunk is done.
    """
    return f"jobs/{job_id}/frames/{chunk:04d}/{number:03d}.png"


def result_key(job_id: str) -> str:
    """The final per-face result document (JSON)."""
    return f"jobs/{job_id}/result.json"


class StorageUnavailable(Exception):
    """The object store could not be reached or answered with a server-side error."""


class ObjectNotFound(Exception):
    """The object does not exist."""


class ObjectStore:
    """Bytes and JSON in one bucket; network faults surface as StorageUnavailable."""

    def __init__(self, settings: Settings) -> None:
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=30.0),
            retries=urllib3.Retry(total=1, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
            maxsize=16,
        )
        self.bucket = settings.s3_bucket
        self.client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
            http_client=http,
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(exc.object_name or "") from exc
            if exc.code in _TRANSIENT_S3_CODES:
                raise StorageUnavailable(f"S3 {exc.code}") from exc
            raise
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"S3 unreachable: {type(exc).__name__}") from exc

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet."""
        if not self._call(self.client.bucket_exists, self.bucket):
            try:
                self._call(self.client.make_bucket, self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def ping(self) -> None:
        """Raise StorageUnavailable unless the bucket is reachable."""
        if not self._call(self.client.bucket_exists, self.bucket):
            raise StorageUnavailable(f"bucket {self.bucket} does not exist")

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key`` (overwrites: every writer is idempotent)."""
        self._call(self.client.put_object, self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def get_bytes(self, key: str) -> bytes:
        """Read a whole object; raise ObjectNotFound if it is missing."""
        response = self._call(self.client.get_object, self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def put_json(self, key: str, value: Any) -> None:
        """Store a JSON document."""
        self.put_bytes(key, json.dumps(value, separators=(",", ":")).encode(), "application/json")

    def get_json(self, key: str) -> Any:
        """Read a JSON document."""
        return json.loads(self.get_bytes(key))

    def copy(self, source_key: str, target_key: str) -> None:
        """Copy an object inside the bucket (server side); raise ObjectNotFound if the source is missing."""
        self._call(self.client.copy_object, self.bucket, target_key, CopySource(self.bucket, source_key))

    def exists(self, key: str) -> bool:
        """True if the object exists."""
        try:
            self._call(self.client.stat_object, self.bucket, key)
        except ObjectNotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> list[str]:
        """All keys under ``prefix``."""
        objects = self._call(self.client.list_objects, self.bucket, prefix=prefix, recursive=True)
        return [obj.object_name for obj in self._call(list, objects)]

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; return how many were deleted."""
        keys = self.list_keys(prefix)
        if keys:
            errors = self._call(list, self.client.remove_objects(self.bucket, [DeleteObject(k) for k in keys]))
            if errors:
                raise StorageUnavailable(f"{len(errors)} objects could not be deleted")
        return len(keys)

    def expire_jobs_after(self, days: int) -> bool:
        """Make the bucket's lifecycle expire ``jobs/`` objects ``days`` after they were written.

        Our rule (:data:`JOBS_LIFECYCLE_RULE_ID`) is added or updated; other rules are kept.
        Returns True if the configuration had to change.
        """
        current = self._call(self.client.get_bucket_lifecycle, self.bucket)
        others = [rule for rule in (current.rules if current else []) if rule.rule_id != JOBS_LIFECYCLE_RULE_ID]
        ours = [rule for rule in (current.rules if current else []) if rule.rule_id == JOBS_LIFECYCLE_RULE_ID]
        if ours and ours[0].expiration is not None and ours[0].expiration.days == days:
            return False
        rule = Rule(
            ENABLED,
            rule_filter=Filter(prefix="jobs/"),
            rule_id=JOBS_LIFECYCLE_RULE_ID,
            expiration=Expiration(days=days),
        )
        self._call(self.client.set_bucket_lifecycle, self.bucket, LifecycleConfig([*others, rule]))
        return True


def lifecycle_days(retention_s: int) -> int:
    """Days after which the S3 lifecycle rule expires job objects: the retention, rounded up, plus one."""
    return -(-retention_s // 86_400) + 1
