"""The KAM Assistant: `Assistant.answer` (the one door for questions), settings and the factory.

Its rooms: agent/ (the LangChain agent and models), slack/ (the Slack app), cli/ (`kam`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kam-assistant")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
