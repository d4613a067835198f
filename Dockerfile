# Accord in a container: slim, non-root, with a health check.
#
#   docker build -t accord .
#   docker run -p 8000:8000 accord                       # on its embedded sandbox
#   docker compose up                                     # with Redis (compose.yaml)
#
# Against real systems, pass the ACCORD_* variables of docs/configuration.md.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /app --create-home accord
USER accord
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["accord"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
