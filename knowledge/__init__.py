"""The guidance knowledge base: the corpus, ingestion, local embeddings and the Chroma index.
Imports nothing of bot, tools, store or prompts."""
