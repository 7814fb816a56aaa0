"""Readers for SEA documents: DOCX, PDF and plain text, each one record split into sections.

A document is one row (row 1). Its text is turned into lines in reading order (DOCX paragraphs and
table cells, PDF page text, text-file lines) and split by
:func:`~pipeline.ingest.sections.split_sections`. A PDF with no extractable text (a scan) yields a
row without a narrative, which ingest quarantines as blank.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.encoding import detect_encoding, open_text
from pipeline.ingest.row import RawRow, Source
from pipeline.ingest.sections import split_sections

__all__ = ["MAX_DOCUMENT_CHARS", "open_docx", "open_pdf", "open_text_document"]

#: Characters read from a document at most. Anything longer is far over the narrative limit and is
#: quarantined as too long, so reading stops here rather than loading a huge file.
MAX_DOCUMENT_CHARS = 1_000_000


def _document(lines: Iterator[str]) -> Iterator[RawRow]:
    """Yield a document's single row, lazily so the file opens when iteration starts."""
    yield RawRow(1, split_sections(lines))


def _capped(lines: Iterator[str]) -> Iterator[str]:
    """Stop yielding lines once :data:`MAX_DOCUMENT_CHARS` characters have been yielded."""
    total = 0
    for line in lines:
        total += len(line) + 1
        if total > MAX_DOCUMENT_CHARS:
            yield line[: max(0, MAX_DOCUMENT_CHARS - (total - len(line) - 1))]
            return
        yield line


def _docx_lines(path: Path) -> Iterator[str]:
    """Paragraphs and table cells of a DOCX body, in reading order (merged cells once)."""
    from docx import Document
    from docx.table import Table

    document = Document(str(path))
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for table_row in block.rows:
                seen: set[int] = set()
                for cell in table_row.cells:
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    yield from cell.text.splitlines()
        else:
            yield block.text


def open_docx(path: Path) -> Source:
    """Open an SEA write-up in DOCX.

    Parameters
    ----------
    path : Path
        The document.

    Returns
    -------
    Source
        One row: section keys and preamble labels to text.
    """
    return Source("docx", _document(_capped(_docx_lines(path))), is_document=True)


def _pdf_lines(path: Path) -> Iterator[str]:
    """Yield the extracted text lines of each page of a PDF."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted and not reader.decrypt(""):
        raise InputError(
            f"{path.name}: the PDF is password-protected; export it without a password"
        )
    for page in reader.pages:
        yield from (page.extract_text() or "").splitlines()


def open_pdf(path: Path) -> Source:
    """Open an SEA write-up in PDF (text layer only; scanned pages need OCR first).

    Parameters
    ----------
    path : Path
        The document.

    Returns
    -------
    Source
        One row: section keys and preamble labels to text.
    """
    return Source("pdf", _document(_capped(_pdf_lines(path))), is_document=True)


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    """Lines of a text file, decoded without ever raising on a bad byte."""
    with open_text(path, encoding) as handle:
        yield from handle.read(MAX_DOCUMENT_CHARS).splitlines()


def open_text_document(path: Path, encoding: str | None = None) -> Source:
    """Open an SEA write-up or a single narrative in plain text.

    Parameters
    ----------
    path : Path
        The document.
    encoding : str, optional
        Force an encoding; by default it is chosen from a sample of the file.

    Returns
    -------
    Source
        One row: section keys and preamble labels to text.
    """
    chosen = encoding or detect_encoding(path)
    return Source(
        "text", _document(_capped(_text_lines(path, chosen))), encoding=chosen, is_document=True
    )
