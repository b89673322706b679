"""Chat models, chosen by KAM_LLM: the embedded offline model or any OpenAI-compatible API."""

from __future__ import annotations

import logging

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from bot.config import Settings

log = logging.getLogger(__name__)



def transient_errors() -> tuple[type[Exception], ...]:
    """Errors worth a second try on another model: the service is slow, busy or down.

    APITimeoutError is a subclass of APIConnectionError; both are listed for clarity.
    (openai is imported on use: it adds ~0.5 s to start-up, and offline runs never need it.)
    """
    import openai

    return (
        openai.APITimeoutError,
        openai.APIConnectionError,
        openai.RateLimitError,
        openai.InternalServerError,
    )


def build_openai_model(settings: Settings) -> BaseChatModel:
    """ChatOpenAI against OpenAI or any compatible server, with explicit timeout and retries."""
    from langchain_openai import ChatOpenAI

    if settings.openai_api_key is None and settings.openai_base_url is None:
        raise ValueError(
            "KAM_LLM=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)"
        )
    return ChatOpenAI(
        model=settings.kam_model,
        api_key=settings.openai_api_key or SecretStr("unused"),
        base_url=settings.openai_base_url,
        timeout=settings.kam_llm_timeout_s,
        max_retries=settings.kam_llm_max_retries,
        temperature=0,
    )


class TransientFallback(AgentMiddleware):
    """On a transient model error, answer with the fallback model instead (others propagate)."""

    def __init__(self, fallback: BaseChatModel):
        super().__init__()
        self.fallback = fallback

    def wrap_model_call(self, request: ModelRequest, handler) -> ModelResponse:
        try:
            return handler(request)
        except transient_errors() as exc:
            log.warning("model error %s; answering with the fallback model", type(exc).__name__)
            return handler(request.override(model=self.fallback))


def describe_model_error(exc: BaseException) -> str | None:
    """A short user-facing apology for a model failure, or None if it is not one."""
    # langchain-openai raises its own subclasses of the openai errors: look at the bases.
    if not any(base.__module__.split(".")[0] == "openai" for base in type(exc).__mro__):
        return None
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "Sorry, the language model took too long to answer. Please try again in a minute."
    if isinstance(exc, openai.RateLimitError):
        return (
            "Sorry, the language model is busy right now (rate limited). Please try again shortly."
        )
    if isinstance(exc, openai.APIConnectionError):
        return "Sorry, I could not reach the language model. Please try again in a minute."
    if isinstance(exc, openai.InternalServerError):
        return "Sorry, the language model had an error. Please try again in a minute."
    if isinstance(exc, openai.APIStatusError):
        return (
            "Sorry, the language model refused the request. An admin has been notified in the logs."
        )
    return None
