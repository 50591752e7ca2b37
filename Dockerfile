# Action server image, in the shape of Rasa's own examples. It cannot be built on the development
# machine (no Docker engine there); build it where Docker runs:
#   docker build -t brightcart-actions .
#   docker run -p 5055:5055 -e BACKEND_URL=http://backend:8000 brightcart-actions
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False \
    ACTION_SERVER_HOST=0.0.0.0 \
    ACTION_SERVER_PORT=5055
# One BLAS thread: the NumPy work is small (scripts/stack.py action_env).
ENV OPENBLAS_NUM_THREADS=1

WORKDIR /app
COPY requirements/app.lock /app/requirements/app.lock
# torch is pinned to the CPU build; the PyTorch CPU index provides it outside this machine.
RUN pip install --no-cache-dir --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements/app.lock

COPY actions /app/actions
# pure-Python helpers shared with the Rasa side (signed identity statements)
COPY common /app/common
# the MiniLM encoder the knowledge retrieval embeds questions with (shared with Rasa's classifier;
# minilm_onnx.py runs it in ONNX Runtime) and the bounded map the prefetch keeps vectors in;
# tests/actions/test_action_image.py checks that every project module the image imports is here
COPY rasa_addons/__init__.py rasa_addons/minilm.py rasa_addons/minilm_onnx.py rasa_addons/continuation.py \
     /app/rasa_addons/
COPY config /app/config
COPY knowledge /app/knowledge

RUN useradd --create-home --uid 1001 rasa && mkdir -p /app/var && chown -R rasa /app/var
USER 1001

EXPOSE 5055
CMD ["python", "-m", "actions.server"]
