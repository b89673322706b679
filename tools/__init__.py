"""The KPI engine and the agent's LangChain tools: accounts, KPIs, guidance, drafts, glance.
May import store, knowledge and prompts; never bot (no Slack, no CLI, no agent)."""
