"""The bundled Tasklane help centre: data files, plus the tool that rebuilds its PDF and DOCX.

Only the files listed in ``manifest.json`` are knowledge-base documents; ``loaders.sample``
reads the manifest and ingests them. ``_sources/`` and ``_generate.py`` exist only to rebuild
the committed PDF and DOCX files. This ``__init__`` makes the folder a package so that the
data files ship as package data.
"""
