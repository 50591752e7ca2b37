# The demo backend ("Brightcart API" and store page). Build from the repository root:
#   docker build -f deploy/docker/backend.Dockerfile -t brightcart-backend .
# A real deployment points the action server's BACKEND_URL at the company's own API instead.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 BACKEND_HOST=0.0.0.0 BACKEND_PORT=8000 BACKEND_DB=/app/var/backend.sqlite3
WORKDIR /app
COPY requirements/app.lock /app/requirements/app.lock
# only what the backend imports (sanic, PyJWT), at the versions the lock pins
RUN pip install --no-cache-dir -c requirements/app.lock sanic pyjwt

COPY demo_backend /app/demo_backend
COPY common /app/common

RUN useradd --create-home --uid 1001 backend && mkdir -p /app/var && chown -R backend /app/var
USER 1001
EXPOSE 8000
CMD ["python", "-m", "demo_backend"]
