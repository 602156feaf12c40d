"""Where answers come from when the model is not loaded in this process: a client of an
OpenAI-compatible inference server (vLLM, SGLang, ``transformers serve``) behind the same
``generation.Backend`` seam as the local model, emitting the same events.

    remote.py     RemoteBackend and Deployment: the request, the stream, Stop, errors, metrics
    dialects.py   what differs between servers (fields, where options go, how video travels)
    transport.py  the clip as a small MP4 of exactly our frames; data / path / url delivery
    servers.py    probing a server (kind, models, max_model_len) and spreading over replicas

``engine.open_backend`` picks it when the settings say ``backend == "openai"``
(``--backend openai --base-url URL``, or ``CAPTIONER_BASE_URL``).
"""
