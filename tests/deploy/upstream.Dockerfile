# The fake OpenAI-dialect upstream (tests/fakes/openai_upstream.py) as a container, for the
# deployment test: built on the turnout image (it has starlette and uvicorn), context tests/fakes.
ARG TURNOUT_IMAGE
FROM ${TURNOUT_IMAGE}
COPY openai_upstream.py /opt/fake/openai_upstream.py
WORKDIR /opt/fake
EXPOSE 9000
HEALTHCHECK NONE
CMD ["python3", "-c", "import uvicorn; from openai_upstream import UpstreamState, create_app; uvicorn.run(create_app(UpstreamState()), host='0.0.0.0', port=9000, log_level='warning')"]
