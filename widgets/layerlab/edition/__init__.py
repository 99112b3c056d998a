"""The course's editions in other languages: a Korean twin of every English notebook, made from
the English notebook and one translation catalog per notebook (`python -m layerlab translate`).

    units      what a notebook offers for translation (markdown cells, code comments, the
               strings its cells print), each with the fingerprint of its English text
    catalog    the catalogs (gettext PO files, read and written with Babel), and staleness
    twin       building the twin: the English notebook with its units translated
    glossary   the terms every translation uses, and the quotes of the seed
"""
