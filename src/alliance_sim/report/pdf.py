"""The report as PDF, through WeasyPrint (the optional ``pdf`` extra: ``pip install 'alliance-sim[pdf]'``;
it needs the Pango libraries, on Debian ``apt-get install libpango-1.0-0 libpangoft2-1.0-0``).

The HTML is rendered offline: WeasyPrint's URL fetcher is limited to the ``data:`` scheme (the embedded
charts), so nothing is fetched from a network or the file system."""

from __future__ import annotations

from alliance_sim.rundir import RunDirError

INSTALL_HINT = "pip install 'alliance-sim[pdf]' (WeasyPrint; on Debian also apt-get install libpango-1.0-0 " \
               "libpangoft2-1.0-0)"


class PdfUnavailable(RunDirError):
    """WeasyPrint is not installed or cannot load its libraries (one line saying how to install it)."""


def weasyprint():
    """The weasyprint module, or :class:`PdfUnavailable` with the install command."""
    try:
        import weasyprint as wp
    except ImportError:
        raise PdfUnavailable(f"--pdf: WeasyPrint is not installed; install it with {INSTALL_HINT}") from None
    except OSError as exc:  # the Python package is there, a system library (Pango) is not
        raise PdfUnavailable(f"--pdf: WeasyPrint cannot load its libraries ({' '.join(str(exc).split())[:120]}); "
                             f"install them with {INSTALL_HINT}") from None
    return wp


def html_to_pdf(html: str) -> bytes:
    """PDF bytes of the page (A4, the stylesheet's print rules); only ``data:`` URLs are read, and one
    that fails stops the rendering (a PDF with a missing chart would look complete)."""
    from weasyprint.urls import FatalURLFetchingError

    wp = weasyprint()
    fetcher = wp.URLFetcher(allowed_protocols=["data"], fail_on_errors=True)
    try:
        return wp.HTML(string=html, url_fetcher=fetcher).write_pdf()
    except FatalURLFetchingError as exc:  # a BaseException in WeasyPrint: turn it into the one-line error
        cause = " ".join(str(exc.__cause__ or exc).split())[:120]
        raise RunDirError(f"--pdf: the page refers to something it may not load ({cause})") from None
