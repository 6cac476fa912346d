"""What a FakeWeb process needs to run that is not part of the contract between the services.

The contract (``services.contract``) is what the services exchange: settings, storage keys, the
job record, tasks and queues, schemas. This package is process plumbing any service may import:

- ``memory``: glibc allocator tuning for processes that decode one photo after another;
- ``testhooks``: TESTS ONLY hooks that hold a stage on purpose (off unless ``FAKEWEB_TEST_HOOKS=1``);
- ``logs``: structured log lines with the job id, tenant and request id, secrets masked;
- ``netguard`` and ``fetch``: outbound HTTP on a caller's behalf under the SSRF guard (the
  gateway's photo URLs, the webhook worker's deliveries).

It imports no service and nothing from ``services.contract``.
"""
