"""Helpers shared by the relying-party tests (authlib, mod_auth_openidc,
the demo portal): following redirects across servers, reading tables off
HTML pages, and printing server logs when a test fails."""

import html.parser
import sys
import urllib.parse


def run_with_logs(test, run, result, *log_sources):
    """Run a TestCase; if it added a failure or error, print the tail of
    every log (callables returning text) to stderr."""
    if result is None:
        result = test.defaultTestResult()
    before = len(result.failures) + len(result.errors)
    out = run(result)
    if len(result.failures) + len(result.errors) > before:
        for src in log_sources:
            try:
                sys.stderr.write("\n---- log ----\n" + src()[-6000:] + "\n")
            except Exception as e:  # a log that is gone must not mask
                sys.stderr.write("(log unavailable: %r)\n" % e)
    return out


def follow(session, resp, stop=None, limit=15):
    """Follow 30x redirects by hand (across Apache, the portal and the
    gateway) until a non-redirect or until stop(url) is true for the next
    Location. Returns the last response."""
    for _ in range(limit):
        if resp.status_code not in (301, 302, 303, 307, 308):
            return resp
        loc = urllib.parse.urljoin(resp.url, resp.headers["Location"])
        if stop is not None and stop(loc):
            return resp
        resp = session.get(loc, allow_redirects=False, timeout=10)
    raise AssertionError("too many redirects, last: %s" % resp.url)


class Tables(html.parser.HTMLParser):
    """{table id: {first cell: second cell}} of every <table id=...>."""

    def __init__(self):
        super().__init__()
        self.tables = {}
        self._t = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._t = self.tables.setdefault(a.get("id", ""), {})
        elif tag == "tr" and self._t is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if len(self._row) >= 2:
                self._t[self._row[0]] = self._row[1]
            self._row = None
        elif tag == "table":
            self._t = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(text):
    p = Tables()
    p.feed(text)
    return p.tables
