"""The local chat model: a pinned GGUF served by llama.cpp's OpenAI-compatible server.

``prepare`` (``make local-llm``) builds the server's venv and assembles and verifies the model;
``server`` runs it as a child process of the app (``LLM=local``); ``chains.providers`` reaches
it as the ``local`` chat provider. Nothing here runs at import.
"""
