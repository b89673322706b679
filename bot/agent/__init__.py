"""The agent: LangChain's `create_agent` graph, the chat models (offline, OpenAI-compatible), the
evals. May import tools, store, knowledge, prompts and bot.config; never bot.slack or bot.cli."""
