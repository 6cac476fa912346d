"""The contract every FakeWeb service shares; services import this package and never each other.

Pipeline (every stage idempotent: a redelivered task rewrites the same keys):

1. gateway: validate, store ``storage.original_key``, ``JobStore.create``, send ``DETECT_TASK``.
2. detect(job_id): decode, find faces, store a crop per judgeable face (``crop_key``) and
   ``faces.json`` (``schemas.DetectionResult``); judgeable faces are split into chunks of
   ``classify_chunk_size``; record ``faces_total``/``chunks_total``; send ``CLASSIFY_TASK``
   (job_id, chunk) per chunk, or ``ANNOTATE_TASK`` at once when there is nothing to score.
3. classify(job_id, chunk): score the chunk's crops through TF Serving, then
   ``JobStore.record_chunk_scores``; the call that completes the last chunk sends ``ANNOTATE_TASK``.
4. annotate(job_id): draw meshes, store ``annotated_key`` and ``result_key``
   (``schemas.JobResult``), and end the job ``completed`` (or ``no_face``).
"""
