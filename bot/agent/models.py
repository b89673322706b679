"""Chat models, chosen by KAM_LLM: the embedded offline model or any OpenAI-compatible API."""

from __future__ import annotations

import logging
import weakref

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from bot.config import Settings

log = logging.getLogger(__name__)

# What langchain raises when a server answers 200 with something that is not a completion
# (an HTML page from a proxy or a captive portal): a ValueError, told by its text; the
# second when the answer was asked for as a stream.
NOT_A_COMPLETION = (
    "Unexpected response type from OpenAI-compatible endpoint",
    "No generations found in stream",
)
NOT_AN_ANSWER = (
    "Sorry, the language model sent back something that is not an answer. "
    "Please try again in a minute."
)


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
        openai.APIResponseValidationError,
    )


def is_transient(exc: BaseException) -> bool:
    """A transient model error (see `transient_errors`), or a 200 that is not a completion."""
    if isinstance(exc, ValueError) and str(exc).startswith(NOT_A_COMPLETION):
        return True
    return _from_openai(exc) and isinstance(exc, transient_errors())


def _from_openai(exc: BaseException) -> bool:
    # langchain-openai raises its own subclasses of the openai errors: look at the bases.
    return any(base.__module__.split(".")[0] == "openai" for base in type(exc).__mro__)


def build_openai_model(settings: Settings) -> BaseChatModel:
    """ChatOpenAI against OpenAI or any compatible server, with explicit timeout, retries and
    a cap on the tokens it writes.

    With the offline model as fallback, the primary gets no retries and a short timeout
    (KAM_LLM_FALLBACK_TIMEOUT_S), so that a hanging or failing server reaches the fallback
    well within the answer budget instead of spending it on attempts.
    """
    from langchain_openai import ChatOpenAI

    if settings.openai_api_key is None and settings.openai_base_url is None:
        raise ValueError(
            "KAM_LLM=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)"
        )
    timeout, retries = settings.kam_llm_timeout_s, settings.kam_llm_max_retries
    if settings.kam_llm_fallback == "offline":
        timeout, retries = min(timeout, settings.kam_llm_fallback_timeout_s), 0
    return ChatOpenAI(
        model=settings.kam_model,
        api_key=settings.openai_api_key or SecretStr("unused"),
        base_url=settings.openai_base_url,
        timeout=timeout,
        max_retries=retries,
        max_completion_tokens=settings.kam_llm_max_tokens,
        temperature=0,
    )


class TransientFallback(AgentMiddleware):
    """On a transient model error, answer with the fallback model instead (others propagate).

    Once the primary failed in an answer, the rest of that answer's steps go straight to
    the fallback: a server that is down costs one attempt per answer, not one per step.
    """

    def __init__(self, fallback: BaseChatModel):
        super().__init__()
        self.fallback = fallback
        # The answers (their runtime contexts) in which the primary already failed.
        self._failed: weakref.WeakSet = weakref.WeakSet()

    def wrap_model_call(self, request: ModelRequest, handler) -> ModelResponse:
        context = request.runtime.context if request.runtime is not None else None
        if context is not None and context in self._failed:
            return handler(request.override(model=self.fallback))
        try:
            return handler(request)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("model error %s; answering with the fallback model", type(exc).__name__)
            if context is not None:
                self._failed.add(context)
            return handler(request.override(model=self.fallback))


def describe_model_error(exc: BaseException) -> str | None:
    """A short user-facing apology for a model failure, or None if it is not one."""
    if isinstance(exc, ValueError) and str(exc).startswith(NOT_A_COMPLETION):
        return NOT_AN_ANSWER
    if not _from_openai(exc):
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
    if isinstance(exc, openai.APIResponseValidationError):
        return NOT_AN_ANSWER
    if isinstance(exc, openai.InternalServerError):
        return "Sorry, the language model had an error. Please try again in a minute."
    if isinstance(exc, openai.APIStatusError):
        return (
            "Sorry, the language model refused the request. An admin has been notified in the logs."
        )
    return None
