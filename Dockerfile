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
# One BLAS thread: the only matrix work is one question's embedding (scripts/stack.py action_env).
ENV OPENBLAS_NUM_THREADS=1

WORKDIR /app
COPY requirements/app.lock /app/requirements/app.lock
# torch is pinned to the CPU build; the PyTorch CPU index provides it outside this machine.
RUN pip install --no-cache-dir --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
        -r requirements/app.lock

COPY actions /app/actions
# the NumPy MiniLM encoder the knowledge retrieval embeds questions with (shared with Rasa's classifier)
COPY rasa_addons/__init__.py rasa_addons/minilm.py /app/rasa_addons/
COPY config /app/config
COPY knowledge /app/knowledge

RUN useradd --create-home --uid 1001 rasa && mkdir -p /app/var && chown -R rasa /app/var
USER 1001

EXPOSE 5055
CMD ["python", "-m", "actions.server"]
