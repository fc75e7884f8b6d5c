"""`zoo serve`: a local web page to denoise one photo at a time (FastAPI + uvicorn, the ``serve`` extra).

``server`` listens on 127.0.0.1 only and owns the private temp folder; ``web`` is the FastAPI app
(the page, uploads, job status, previews, the result); ``work`` runs jobs one at a time through
the zoo's own path (``zoo.inference.batch.run_jobs``: read_image -> engine -> strength -> atomic
write_image). Nothing here is imported by `zoo --help` or `zoo list`: the command imports it when run.
"""
