#!/usr/bin/python3
"""Runs Debian 12's prometheus-openstack-exporter (0.0.4) under Python 3, as little changed as
it can be.

Usage: openstack-exporter.py CONFIG_YAML   (credentials in OS_* variables, as the package's
                                           service reads them from /etc/default)

The package as shipped does not start on Debian 12: /usr/bin/prometheus-openstack-exporter is
Python 2 code under a python3 shebang (`import urlparse`, `BaseHTTPServer`, `SocketServer`),
it imports `cinderclient.v2`, which python3-cinderclient 9 no longer has (Cinder's v2 API was
removed upstream), its scrape handler adds bytes to a str, and it binds every interface. This
launcher aliases the three Python 2 modules to their Python 3 names and `cinderclient.v2` to
`cinderclient.v3`, and applies three one-line changes to the source at load time (bytes for
the scrape body and error text, 127.0.0.1 for the listen address). Everything else — the
data-gathering thread, its API calls, the cache file, the scrape — runs as packaged.
"""
import http.server
import socketserver
import sys
import urllib.parse

SOURCE = "/usr/bin/prometheus-openstack-exporter"
FIXES = [
    ("output = ''", "output = b''"),
    ("self.wfile.write(traceback.format_exc())", "self.wfile.write(traceback.format_exc().encode())"),
    ("ForkingHTTPServer(('', config.get('listen_port'))", "ForkingHTTPServer(('127.0.0.1', config.get('listen_port'))"),
]


def main():
    sys.modules["urlparse"] = urllib.parse
    sys.modules["BaseHTTPServer"] = http.server
    sys.modules["SocketServer"] = socketserver
    import cinderclient.v3
    import cinderclient.v3.client
    sys.modules["cinderclient.v2"] = cinderclient.v3
    sys.modules["cinderclient.v2.client"] = cinderclient.v3.client
    with open(SOURCE) as f:
        code = f.read()
    for old, new in FIXES:
        assert code.count(old) == 1, f"the packaged exporter changed: {old!r} not found once"
        code = code.replace(old, new)
    sys.argv = [SOURCE, *sys.argv[1:]]
    exec(compile(code, SOURCE, "exec"), {"__name__": "__main__", "__file__": SOURCE})


if __name__ == "__main__":
    main()
