"""The embedded offline model: reading a question, planning tool calls, writing the answer.
May import tools, store, knowledge and prompts; nothing of bot but its own folder."""
