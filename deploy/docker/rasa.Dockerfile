# Rasa server image with this project's components (rasa_addons/), channels (channels/) and shared
# helpers (common/). Build from the repository root:
#   docker build -f deploy/docker/rasa.Dockerfile -t brightcart-rasa .
# The model is not baked in: it comes from one place every replica reads (the shared `models`
# volume the `train` service / Job writes, or a model server set in endpoints), so a new model is
# rolled out by restarting replicas one at a time, not by building an image.
FROM python:3.10-slim

ENV PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    RASA_TELEMETRY_ENABLED=false \
    OPENBLAS_NUM_THREADS=1 \
    SANIC_REQUEST_MAX_SIZE=2000000

WORKDIR /app
COPY requirements/rasa.lock requirements/rasa-nodeps.txt /app/requirements/
RUN pip install --no-cache-dir --no-deps -r requirements/rasa.lock \
 && pip install --no-cache-dir --no-deps -r requirements/rasa-nodeps.txt

# what `python -m rasa_addons.launch` loads: components and the patch layer, channels, shared helpers
COPY rasa_addons /app/rasa_addons
COPY channels /app/channels
COPY common /app/common
# the card-number detector and the erasure helpers Rasa's channels and privacy endpoint use
COPY actions/__init__.py actions/card_numbers.py /app/actions/
COPY actions/privacy/__init__.py actions/privacy/sqlstores.py /app/actions/privacy/
COPY config /app/config
COPY config.yml domain.yml endpoints.yml endpoints.prod.yml credentials.yml /app/
# training data, for the train Job / compose service that uses this same image
COPY data /app/data

RUN useradd --create-home --uid 1001 rasa && mkdir -p /app/models /app/var && chown -R rasa /app/models /app/var
USER 1001
ENV PYTHONPATH=/app

EXPOSE 5005
# RASA_API_TOKEN must be set; the endpoints file selects the stores (endpoints.prod.yml:
# PostgreSQL, Redis, RabbitMQ). --model is a folder: Rasa loads the newest model in it.
CMD ["sh", "-c", "exec python -m rasa_addons.launch run --enable-api --auth-token \"$RASA_API_TOKEN\" --endpoints \"${RASA_ENDPOINTS:-endpoints.prod.yml}\" --credentials credentials.yml --model /app/models --port 5005 --interface 0.0.0.0 --cors \"${CHAT_ALLOWED_ORIGINS}\""]
