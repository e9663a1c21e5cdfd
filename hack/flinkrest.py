"""Flink's REST API of a cluster on 127.0.0.1, for the hack/ scripts (chaos, benchmarks).

Flinklet's clusters take only HTTPS with the state directory's client certificate
(<state>/tls/flinklet.crt and .key); clusters started by Flink's own scripts, or by a Flinklet
before mutual TLS, take plain HTTP. Append each state directory to TLS_STATE_DIRS.
"""
import os
import ssl
import urllib.request

TLS_STATE_DIRS = []


def _tls_context(state):
    crt, key = f"{state}/tls/flinklet.crt", f"{state}/tls/flinklet.key"
    if not (os.path.exists(crt) and os.path.exists(key)):
        return None
    context = ssl.create_default_context(cafile=crt)
    context.load_cert_chain(crt, key)
    return context


def open_rest(port, path, timeout):
    """The answer of the first of: HTTPS with each known state directory's certificate, plain HTTP."""
    error = None
    for state in TLS_STATE_DIRS:
        context = _tls_context(state)
        if context is None:
            continue
        try:
            return urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", timeout=timeout, context=context)
        except Exception as e:  # noqa: BLE001 - try the next way in
            error = e
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout)
    except Exception as e:  # noqa: BLE001
        raise (error or e)
