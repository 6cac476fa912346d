"""The webhook worker: a separate deployment that POSTs a signed job document to a job's ``callback_url``."""
