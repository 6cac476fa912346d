"""The contract every FakeWeb service shares; services import this package and never each other.

The pipeline is declared once, in ``pipeline.PIPELINE`` (stage, task, queue, worker, tasks per job);
docs/architecture.md shows it. Every stage is idempotent: a redelivered task rewrites the same keys.

1. gateway: validate, store ``storage.original_key``, write the ``record.JobRecord`` with
   ``JobStore.create_for_tenant``, queue the first stage with ``pipeline.send_first``.
2. detect(job_id): decode, find faces, store a crop per judgeable face (``crop_key``) and
   ``faces.json`` (``schemas.DetectionResult``); judgeable faces are split into chunks of
   ``classify_chunk_size``; record ``faces_total``/``chunks_total``; ``pipeline.send_next`` with
   one payload per chunk (its face indexes): classify gets one task per chunk, or, with no
   chunks, annotate is queued at once. A video's detect only plans: one
   ``detect_frames(job_id, chunk, chunks=N, first=, stop=, targets=...)`` per chunk of sampled
   frames (``pipeline.DETECT_FRAMES``), counted by ``JobStore.record_frame_chunk``; the call that
   completes the count links the tracks, writes ``faces.json`` and sends classify as above (each
   payload also naming its crops' keys).
3. classify(job_id, chunk, chunks=N, faces=[...], crops=[...]): score the chunk's crops through TF Serving,
   then ``JobStore.record_chunk_scores``; the call that completes the last chunk sends the next
   stage (annotate).
4. annotate(job_id): draw meshes, store ``annotated_key`` and ``result_key``
   (``schemas.JobResult``), end the job ``completed`` (or ``no_face``) and notify (result cache,
   webhook).
"""
